"""hedgespec.audit"""
