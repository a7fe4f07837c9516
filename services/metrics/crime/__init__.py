"""Crime statistics: incidents imported (CSV or JSON), placed in neighbourhoods, listed and counted by month."""
