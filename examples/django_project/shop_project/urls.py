from django.urls import include, path

from orders import views

urlpatterns = [
    path("orders", views.create_order, name="create_order"),
    path("orders/<int:order_id>", views.show_order, name="show_order"),
    # The dashboard, for staff users (create one with `manage.py createsuperuser`).
    path("roadie/", include("roadie.contrib.django.urls")),
]
