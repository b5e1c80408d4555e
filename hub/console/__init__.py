"""The web console (``/console``): a face, like ``hub.api``, for people rather than systems.

Server-rendered pages (Jinja2 templates in ``templates/``, one small stylesheet in
``static/``; no JavaScript, no build step), for district administrators, data-protection
officers, operators and hub administrators (``hub.services.users``). The console calls only
``hub.services``: which districts a person sees is decided there, through the principal the
person becomes for one action, never in a template.

A page, in four steps (``hub.console.web`` has the machinery)::

    def things_router(console: Console) -> APIRouter:
        router = console.router()                      # CSRF on every POST, HTML errors

        @router.get("/console/things")
        def things(request: Request, session: Annotated[ConsoleSession, Depends(console.user)]):
            principal = principal_for(session.person, Role.OPERATOR)  # 1. the role it needs
            found = list_things(console.hub, principal)            # 2. the service scopes
            return console.render(request, "things.html", things=found)  # 3. the template

        return router

and ``ROUTERS`` in ``hub.console.app`` lists it (4). The module has no ``from __future__
import annotations`` (FastAPI reads the annotations at run time). A form carries
``{{ csrf_field() }}``; the route refuses a POST without the session's token before the
endpoint runs. A page that shows personal data calls a service that records the view with
``Principal.did`` (the person as actor). No identity number in a URL: a person is searched by
a POSTed form field, turned into its keyed hash by the service.
"""
