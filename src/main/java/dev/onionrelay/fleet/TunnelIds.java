package dev.onionrelay.fleet;

import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Tunnel ids as the API shows them. In a fleet, an id carries the instance that holds the tunnel after a dot
 * ({@code 0b1c…-…-9e.b}: tunnel {@code 0b1c…-…-9e} of instance {@code b}), so that a call about it goes to that
 * instance alone instead of asking every member. The engine's own ids are UUIDs (no dot), so the first dot splits the
 * two. A single instance (the file store) shows the engine's id as it is, and an id without an instance (from a
 * single instance, or a member of an older version) is looked for everywhere, as before.
 *
 * <p>Only instance names that stay URL-safe as they are (letters, digits, {@code .}, {@code _}, {@code -}, {@code ~})
 * are carried; any other name leaves ids plain.
 */
public final class TunnelIds {

    private static final char SEPARATOR = '.';
    private static final Pattern URL_SAFE = Pattern.compile("[A-Za-z0-9._~-]+");

    private final @Nullable String suffix;

    private TunnelIds(@Nullable String instance) {
        this.suffix = instance != null && URL_SAFE.matcher(instance).matches() ? SEPARATOR + instance : null;
    }

    /** Ids of a fleet member: each carries {@code instance}. */
    public static TunnelIds carrying(String instance) {
        return new TunnelIds(instance);
    }

    /** Ids of a single instance: the engine's, unchanged. */
    public static TunnelIds plain() {
        return new TunnelIds(null);
    }

    /** The id the API shows for this instance's tunnel {@code local}. */
    public String shown(String local) {
        return suffix == null ? local : local + suffix;
    }

    /** Where a shown id points: the instance that holds it (null when the id does not say) and the engine's id. */
    public static Holder holder(String shown) {
        int dot = shown.indexOf(SEPARATOR);
        if (dot <= 0 || dot == shown.length() - 1) {
            return new Holder(null, shown);
        }
        return new Holder(shown.substring(dot + 1), shown.substring(0, dot));
    }

    /**
     * @param instance the instance that holds the tunnel, or null when the id does not name one
     * @param local the id on that instance
     */
    public record Holder(@Nullable String instance, String local) {}
}
