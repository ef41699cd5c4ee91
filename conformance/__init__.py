"""hedgespec.conformance"""
