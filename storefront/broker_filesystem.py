"""kombu's filesystem transport (the embedded default broker of `make run`) with messages
written atomically.

kombu 5.x writes a message straight into the queue folder under its final name and only
then fills it; a worker polling the folder can move and read the file in between, find it
empty and die with ``JSONDecodeError`` ("Unrecoverable error"), which stops `make run`.
Here a message is written under a name the reader skips (``.<name>.part``) and renamed
into place, which is atomic on the same filesystem, so the reader only ever sees whole
messages. The same race exists for an exchange's binding table (created empty, then
filled, while another process reads it): a new table is written aside and linked into
place, so it exists only with its content. storefront/celery.py makes ``filesystem://``
mean this transport.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

exchange_queue_t = filesystem.exchange_queue_t


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: write a hidden part file, then rename it."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as part:
                part.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """Bind ``queue``; a table that does not exist yet is created whole."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        if not file.exists():
            entry = exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = file.with_name(f".{file.name}.{uuid.uuid4().hex}.part")
            try:
                partial.write_bytes(str_to_bytes(dumps([entry])))
                try:
                    os.link(partial, file)  # fails if another process created it first
                    return
                except FileExistsError:
                    pass  # add our binding to theirs below
                finally:
                    partial.unlink(missing_ok=True)
            except OSError as exc:
                raise ChannelError(f"Cannot open {file}") from exc
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
