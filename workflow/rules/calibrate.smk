"""(rules of this stage are being written)"""
