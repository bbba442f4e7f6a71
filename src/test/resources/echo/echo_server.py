"""A TCP echo target on loopback with a chosen read pattern, for tests that need peers unlike our own.

    python3 echo_server.py asyncio|threads

Prints the port it listens on, then serves until killed. Each pattern answers a client's FIN with its own
once everything has been echoed.
- asyncio: one event loop, streams with drain(): reading pauses while the transport's write buffer is full.
- threads: one thread per connection, recv then sendall: while a send blocks, nothing is read.
"""
import asyncio
import socket
import sys
import threading


async def _asyncio_client(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _asyncio_main():
    server = await asyncio.start_server(_asyncio_client, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def _threads_client(conn):
    with conn:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _threads_main():
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_threads_client, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    if sys.argv[1] == "asyncio":
        asyncio.run(_asyncio_main())
    else:
        _threads_main()
