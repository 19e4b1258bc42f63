"""Reply templates: which `{placeholders}` they may use, and filling them in."""

import string

# What a reply template may say about the mention it answers; nothing else is substituted.
TEMPLATE_FIELDS = ("author", "platform", "rule")


def template_fields(template: str) -> list[str]:
    """The placeholders of a reply template; ValueError for anything but plain `{name}`.

    Only these names are ever substituted, and only once: the author's handle (user text) is a
    value, never parsed as a template, so `{author}` named "{rule}" stays "{rule}".
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template: {exc}; write {{{{ and }}}} for literal braces") from None
    names = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            allowed = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            raise ValueError(
                f"template placeholder {{{name}}} is unknown; use {allowed} "
                "(write {{ and }} for literal braces)"
            )
        names.append(name)
    return names


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders checked by `template_fields`; values are inserted verbatim."""
    out = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, ""))
    return "".join(out)
