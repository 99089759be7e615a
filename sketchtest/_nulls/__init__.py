"""Null laws: the distributions that turn a statistic into a p-value (limit laws, tables, Monte Carlo, tails, combinations)."""
