"""minirtc.data"""
