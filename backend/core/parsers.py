"""The API's JSON parser: DRF's, with the nesting depth bounded.

json.load recurses once per level of nesting: a 2 KB body of 1,000 "[" raises RecursionError deep in
the parser, and anything that walks a deeply nested value later (serializers, repr in a log line)
can do the same. No request of ours nests more than a few levels, so a value deeper than
MOODWATCH["JSON_MAX_DEPTH"] is refused as a 400 with the code "json_too_deep".
"""
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def json_depth_exceeds(value, limit: int) -> bool:
    """True if `value` nests lists/objects more than `limit` levels deep (iterative: no recursion).

    Level by level: only the lists and objects of a level are kept, so each scalar is looked at once
    (a mood batch of 60 entries holds about a thousand)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 1
    while level:
        if depth > limit:
            return True
        children = []
        for item in level:
            children.extend(item.values() if isinstance(item, dict) else item)
        level = [child for child in children if isinstance(child, (dict, list))]
        depth += 1
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MOODWATCH["JSON_MAX_DEPTH"]
        detail = f"The JSON body nests more than {limit} levels deep."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the C decoder's own guard: bounded by Python's recursion limit
            raise ParseError(detail, code="json_too_deep") from None
        if json_depth_exceeds(data, limit):
            raise ParseError(detail, code="json_too_deep")
        return data


class NonFiniteJSONParser(BoundedJSONParser):
    """JSON with NaN and Infinity read as numbers (Python's json reads them; DRF refuses them by
    default with a bare parse error), so that a field sent as NaN gets the serializer's own answer:
    a validation_error naming the field."""

    strict = False
