"""Jobs of the orders app; `manage.py roadie worker` imports this module by itself."""

from __future__ import annotations

import roadie
from orders.models import Order


@roadie.job(name="django_example.write_receipt", queue="receipts", retry=3)
def write_receipt(order_id: int) -> None:
    """Store the receipt text on the order.

    The job is pushed only after the order's transaction commits, so the row
    is always there when the job reads it.
    """
    order = Order.objects.get(pk=order_id)
    order.receipt = f"Receipt for order {order.pk}: {order.quantity} x {order.item}"
    order.save(update_fields=["receipt"])
