"""WhiteNoise without a thread hop on every API request.

WhiteNoise's middleware is synchronous only. Under ASGI, Django then adapts the chain
around it: the event loop hands each request to a thread for WhiteNoise, back to the
loop for the async-capable middleware below it, and to a thread again for the view:
three handoffs (a quarter of a trivial request's time under daphne) to answer "is
this a static file?" with a dictionary lookup. This subclass answers that on the
loop, goes to a thread only to serve a file, and keeps the same behaviour under WSGI.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, **kwargs):
        super().__init__(get_response, **kwargs)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        path = request.path_info
        static_file = None
        if self.autorefresh:  # DEBUG: looks on disk, so off the loop, and only for /static/
            if path.startswith(self.static_prefix):
                static_file = await sync_to_async(self.find_file, thread_sensitive=False)(path)
        else:
            static_file = self.files.get(path)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)
