"""minirtc.experiments"""
