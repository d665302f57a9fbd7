"""Serializers shared by the API (documentation of the error body)."""
from rest_framework import serializers


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    detail = serializers.CharField()
    index = serializers.IntegerField(required=False, help_text="Position in a repeated field.")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    detail = serializers.CharField()
    errors = FieldErrorSerializer(many=True, required=False)
