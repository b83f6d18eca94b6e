"""A Sphinx extension for the book: each page loads each script once.

sphinx-thebe (which jupyter-book always loads) can register its inline configuration script twice, and then every
page raises "Identifier 'THEBE_JS_URL' has already been declared" in the browser. This drops exact duplicates from
a page's scripts (the second copy names its file ``""`` where the first has ``None``, so they are compared by
content); the browser test (tests/test_site.py) fails on any script error.
"""


def _content(script):
    attributes = getattr(script, "attributes", {})
    return (getattr(script, "filename", script) or "", tuple(sorted(attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        seen, unique = set(), []
        for script in scripts:
            if _content(script) not in seen:
                seen.add(_content(script))
                unique.append(script)
        scripts[:] = unique


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
