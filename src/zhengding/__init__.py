"""Zhengding (政钉): government collaboration and dispatch platform."""
