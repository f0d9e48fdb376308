"""The routes of the web service, one router per concern: sign-in and accounts
(:mod:`.users`), the pages to look at (:mod:`.pages`), uploads and their review
(:mod:`.uploads`), file downloads (:mod:`.downloads`) and the JSON API's data
(:mod:`.api`).  :func:`ecomap.web.app.create_app` mounts them."""
