package dev.onionrelay.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The far end of every tunnel the benchmark builds: a small NIO server in its own process, so that its CPU and file
 * descriptors are not the load generator's.
 *
 * <p>Each connection starts with a 9-byte header, an operation and a length ({@link Wire}):
 *
 * <ul>
 *   <li>{@code S} (sink): read exactly {@code length} bytes while hashing them, then answer with the byte count and
 *       their SHA-256. The client compares both with what it sent: a relay that loses, reorders or corrupts a byte
 *       fails the run. No half-close is needed, so this works with every provider and transport.
 *   <li>{@code E} (echo): send back every byte that follows, until the client closes.
 * </ul>
 *
 * <p>Usage: {@code Sink <port> [selector-threads]}. Prints {@code READY <port>} once listening.
 */
public final class Sink {

    private static final int READ_BUFFER = 256 * 1024;

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress("127.0.0.1", port), 4096);
        List<Loop> loops = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Loop loop = new Loop();
            loops.add(loop);
            Thread thread = new Thread(loop, "sink-" + i);
            thread.setDaemon(false);
            thread.start();
        }
        System.out.println("READY " + ((InetSocketAddress) server.getLocalAddress()).getPort());
        System.out.flush();
        AtomicInteger next = new AtomicInteger();
        while (true) {
            SocketChannel accepted = server.accept();
            accepted.configureBlocking(false);
            accepted.socket().setTcpNoDelay(true);
            loops.get(Math.floorMod(next.getAndIncrement(), loops.size())).adopt(accepted);
        }
    }

    /** One selector thread and the connections it owns. */
    private static final class Loop implements Runnable {

        private final Selector selector;
        private final List<SocketChannel> incoming = new ArrayList<>();
        private final ByteBuffer readBuffer = ByteBuffer.allocate(READ_BUFFER);

        Loop() throws IOException {
            this.selector = Selector.open();
        }

        void adopt(SocketChannel channel) {
            synchronized (incoming) {
                incoming.add(channel);
            }
            selector.wakeup();
        }

        @Override
        public void run() {
            while (true) {
                try {
                    selector.select();
                    synchronized (incoming) {
                        for (SocketChannel channel : incoming) {
                            channel.register(selector, SelectionKey.OP_READ, new Connection(channel));
                        }
                        incoming.clear();
                    }
                    Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                    while (keys.hasNext()) {
                        SelectionKey key = keys.next();
                        keys.remove();
                        Connection connection = (Connection) key.attachment();
                        try {
                            if (key.isValid() && key.isWritable()) {
                                connection.drain(key);
                            }
                            if (key.isValid() && key.isReadable()) {
                                connection.read(key, readBuffer);
                            }
                        } catch (IOException e) {
                            connection.close(key);
                        }
                    }
                } catch (IOException e) {
                    System.err.println("sink: " + e);
                }
            }
        }
    }

    /** Per-connection protocol state. */
    private static final class Connection {

        private final SocketChannel channel;
        private final ByteBuffer header = ByteBuffer.allocate(Wire.HEADER_BYTES);
        private byte operation;
        private long remaining;
        private long counted;
        private MessageDigest digest;
        private ByteBuffer pending;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }

        void read(SelectionKey key, ByteBuffer buffer) throws IOException {
            buffer.clear();
            int read = channel.read(buffer);
            if (read < 0) {
                close(key);
                return;
            }
            buffer.flip();
            while (buffer.hasRemaining() && key.isValid()) {
                if (operation == 0) {
                    readHeader(buffer);
                } else if (operation == Wire.SINK) {
                    sink(key, buffer);
                } else {
                    echo(key, buffer);
                    return;
                }
            }
        }

        private void readHeader(ByteBuffer buffer) {
            while (header.hasRemaining() && buffer.hasRemaining()) {
                header.put(buffer.get());
            }
            if (header.hasRemaining()) {
                return;
            }
            header.flip();
            operation = header.get();
            remaining = header.getLong();
            header.clear();
            counted = 0;
            if (operation == Wire.SINK) {
                digest = sha256();
            } else if (operation != Wire.ECHO) {
                throw new IllegalStateException("unknown operation " + operation);
            }
        }

        private void sink(SelectionKey key, ByteBuffer buffer) throws IOException {
            int take = (int) Math.min(remaining, buffer.remaining());
            digest.update(buffer.array(), buffer.arrayOffset() + buffer.position(), take);
            buffer.position(buffer.position() + take);
            remaining -= take;
            counted += take;
            if (remaining == 0) {
                ByteBuffer answer = ByteBuffer.allocate(Wire.ANSWER_BYTES);
                answer.putLong(counted).put(digest.digest()).flip();
                operation = 0;
                write(key, answer);
            }
        }

        private void echo(SelectionKey key, ByteBuffer buffer) throws IOException {
            write(key, buffer);
        }

        /** Writes what it can; keeps the rest and stops reading until it is gone (backpressure). */
        private void write(SelectionKey key, ByteBuffer data) throws IOException {
            channel.write(data);
            if (data.hasRemaining()) {
                ByteBuffer copy = ByteBuffer.allocate(data.remaining());
                copy.put(data).flip();
                pending = copy;
                key.interestOps(SelectionKey.OP_WRITE);
            }
        }

        void drain(SelectionKey key) throws IOException {
            channel.write(pending);
            if (!pending.hasRemaining()) {
                pending = null;
                key.interestOps(SelectionKey.OP_READ);
            }
        }

        void close(SelectionKey key) {
            key.cancel();
            try {
                channel.close();
            } catch (IOException ignored) {
                // Already gone.
            }
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
