"""What producers and consumers agree on: event contracts, the programme's vocabulary, field types, GeoJSON."""
