"""minirtc.training"""
