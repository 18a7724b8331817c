"""A FastAPI app that notifies a webhook about each new order, in the background with roadie.

POST /orders with ``{"item": "tea", "quantity": 2}`` returns 202 at once; a
roadie job then posts the order to ``WEBHOOK_URL``. The request handler
awaits ``aperform_async`` without passing a client: the lifespan opened the
event loop's default AsyncClient. Set ``EMBEDDED_WORKER=1`` to run the worker
inside the web server's process instead of as a separate ``roadie worker``.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from roadie.config import Settings
from roadie.contrib.fastapi import Roadie
from webhook_jobs import notify_webhook

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8001/hooks/orders"


class Order(BaseModel):
    item: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0, le=1000)


def create_app(
    settings: Settings | None = None, *, webhook_url: str | None = None, run_worker: bool | None = None
) -> FastAPI:
    """Build the app; without arguments, settings and the webhook come from the environment."""
    if run_worker is None:
        run_worker = os.environ.get("EMBEDDED_WORKER") == "1"
    target = webhook_url or os.environ.get("WEBHOOK_URL", DEFAULT_WEBHOOK_URL)
    roadie_app = Roadie(settings, run_worker=run_worker, worker_queues=["webhooks", "default"])
    app = FastAPI(title="orders", lifespan=roadie_app.lifespan)

    @app.post("/orders", status_code=202)
    async def create_order(order: Order) -> dict[str, Any]:
        order_id = uuid.uuid4().hex
        event = {"type": "order.created", "order_id": order_id, **order.model_dump()}
        jid = await notify_webhook.aperform_async(target, event)
        return {"order_id": order_id, "jid": jid}

    return app


app = create_app()
