"""Conversations: compare N instances on one turn, record, view (blind or not), vote and reveal, export."""
