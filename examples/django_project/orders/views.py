"""A small JSON API: create an order, then read it back with its receipt once the job has run."""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from orders.jobs import write_receipt
from orders.models import Order


@csrf_exempt  # a JSON API for scripts, not a form; real projects authenticate such calls
@require_POST
def create_order(request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body)
        item, quantity = str(body["item"]), int(body["quantity"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": 'send JSON like {"item": "tea", "quantity": 2}'}, status=400)
    if not item or quantity < 1:
        return JsonResponse({"error": "item must not be empty and quantity must be at least 1"}, status=400)

    with transaction.atomic():
        order = Order.objects.create(item=item, quantity=quantity)
        # Pushed when the transaction commits, so the worker never gets the id of an unsaved order.
        jid = write_receipt.perform_async(order.pk)
    return JsonResponse({"order_id": order.pk, "jid": jid}, status=202)


@require_GET
def show_order(request: HttpRequest, order_id: int) -> JsonResponse:
    order = get_object_or_404(Order, pk=order_id)
    return JsonResponse({"order_id": order.pk, "item": order.item, "receipt": order.receipt or None})
