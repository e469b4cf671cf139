"""Small views, one module per area of urls.py: access -> form -> action (actions.py) -> panel
(``common.panel_reply``) or redirect. No view pushes to pages or records activity: the actions do."""
