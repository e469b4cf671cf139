"""The HTTP API, ``/api/v1/`` (django-ninja: the OpenAPI 3.1 schema is made from these functions' types).

It is the pages' rules spoken in JSON: who may do what is asked of ``access.py``, every change is a function of
``actions.py``, every form is the page's own form, every file the page's own download. ``auth.py`` says who a
request is (a personal access token, the session with its CSRF token, or a share link), ``problems.py`` turns
every refusal into RFC 9457 problem JSON, ``app.py`` puts the areas' routers together, ``uploads.py`` speaks
tus 1.0 for resumable uploads and ``hooks.py`` sends the webhooks.
"""
