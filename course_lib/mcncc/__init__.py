"""MCNCC — Cross-Domain Image Matching with Deep Feature Maps (Kong, Supančič, Ramanan, Fowlkes, IJCV 2019,
arXiv:1804.02367).
"""
