"""Route groups, one Router per resource."""
