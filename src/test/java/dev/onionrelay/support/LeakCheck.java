package dev.onionrelay.support;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * Runs a test class with Netty's leak detector at PARANOID (every buffer tracked) and fails it if the detector
 * reports a leak. Leaks are found when the garbage collector has collected an unreleased buffer and a later
 * allocation looks at the detector's queue, so the check collects garbage and allocates before it reads the log.
 */
public final class LeakCheck implements BeforeAllCallback, AfterAllCallback {

    private static final String DETECTOR = ResourceLeakDetector.class.getName();
    private ListAppender<ILoggingEvent> appender;
    private ResourceLeakDetector.Level before;

    @Override
    public void beforeAll(ExtensionContext context) {
        before = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        appender = new ListAppender<>();
        appender.start();
        ((Logger) LoggerFactory.getLogger(DETECTOR)).addAppender(appender);
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        try {
            for (int round = 0; round < 5; round++) {
                System.gc();
                Thread.sleep(50);
                for (int i = 0; i < 64; i++) {
                    ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(64);
                    probe.release();
                    ByteBuf heap = PooledByteBufAllocator.DEFAULT.heapBuffer(64);
                    heap.release();
                }
            }
            List<String> leaks = appender.list.stream()
                    .map(ILoggingEvent::getFormattedMessage)
                    .filter(message -> message.contains("LEAK"))
                    .toList();
            if (!leaks.isEmpty()) {
                throw new AssertionError("Netty reported " + leaks.size() + " leak(s):\n" + leaks.get(0));
            }
        } finally {
            ((Logger) LoggerFactory.getLogger(DETECTOR)).detachAppender(appender);
            ResourceLeakDetector.setLevel(before);
        }
    }
}
