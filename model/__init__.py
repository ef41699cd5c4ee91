"""hedgespec.model"""
