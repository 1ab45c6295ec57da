"""Flask-Admin template overrides, shipped in the wheel as ``flask_gdprchat.admin_templates``.

This file keeps the folder a package (and present in every checkout) even before
it holds any template, so the package directory named in setup.cfg always exists.
"""
