"""What every CPTED service uses: settings, database, bus, events, errors, auth."""
