"""Rubric schema and scoring: turns scenario outcomes into criteria, skills and a total."""
