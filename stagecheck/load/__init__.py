"""The load: the plan of a run (users, rate, duration, stages) and its open-loop arrivals."""
