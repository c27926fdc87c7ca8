"""Screening: external lists (OFAC SDN, UN), name matching, screens of persons and
organisations (DESIGN §5)."""
