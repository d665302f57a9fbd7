"""Routes of API version 1."""
from django.urls import path

urlpatterns: list = []
