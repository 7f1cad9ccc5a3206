"""harness: grades take-home exercises for backend engineers.

Data flows one way: submission → image → service → scenarios → outcomes → rubric → result → reports.
"""

__version__ = "0.1.0"
