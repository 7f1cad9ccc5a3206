"""The pytest plugin that runs an exercise's scenarios: fixtures, markers, outcome collection."""
