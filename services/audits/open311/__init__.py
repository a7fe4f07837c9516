"""Open311 GeoReport v2 at ``/open311``: recommendations as service requests, audit requests taken in."""
