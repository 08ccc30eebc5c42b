"""minirtc.metrics"""
