package dev.onionrelay.layer.allow;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a BoringSSL function lies in this process's copy of netty-tcnative, which links BoringSSL statically and exports
 * only its JNI entry points. The library keeps its full symbol table ({@code .symtab}), so the function's offset is
 * read there; the library's load address comes from {@code /proc/self/maps}. The ELF image is the jar's own copy of the
 * library ({@code META-INF/native/}, which Netty extracts and loads, then deletes), or the mapped file while it still
 * exists.
 *
 * <p>Nothing is trusted by name alone: {@link #locate} answers an address only when the loaded library's ELF header and
 * the function's whole machine code in memory are byte for byte those of the image it read, so a different build of
 * the library (another tcnative version, a library found on {@code java.library.path}) is refused, not called.
 *
 * @param address the function's address in this process
 * @param library the mapped library's path as {@code /proc/self/maps} shows it
 */
record TcnativeFunction(long address, String library) {

    private static final Pattern MAPPED = Pattern.compile(
            "^([0-9a-f]+)-[0-9a-f]+ \\S+ ([0-9a-f]+) \\S+ \\S+\\s+(/\\S*libnetty_tcnative[^/\\s]*\\.so)( \\(deleted\\))?$");

    /** Reads {@code length} bytes of this process's memory at {@code address}. */
    @FunctionalInterface
    interface Memory {
        byte[] read(long address, int length);
    }

    /**
     * Finds {@code symbol} (a function) in the loaded netty-tcnative library and checks it against the library's image.
     *
     * @throws IOException when the library is not loaded, not a 64-bit little-endian ELF, has no such function, or its
     *     loaded code differs from the image's
     */
    static TcnativeFunction locate(String symbol, Memory memory) throws IOException {
        String maps = Files.readString(Path.of("/proc/self/maps"));
        long base = -1;
        String library = null;
        for (String line : maps.split("\n")) {
            Matcher mapped = MAPPED.matcher(line);
            if (mapped.matches() && Long.parseLong(mapped.group(2), 16) == 0) {
                base = Long.parseUnsignedLong(mapped.group(1), 16);
                library = mapped.group(3);
                break;
            }
        }
        if (library == null) {
            throw new IOException("netty-tcnative is not mapped in this process");
        }
        ByteBuffer image = ByteBuffer.wrap(image(library)).order(ByteOrder.LITTLE_ENDIAN);
        if (image.getInt(0) != 0x464c457f || image.get(4) != 2 || image.get(5) != 1) {
            throw new IOException(library + " is not a 64-bit little-endian ELF image");
        }
        long firstLoad = Long.MAX_VALUE;
        List<long[]> loads = new java.util.ArrayList<>();
        long programHeaders = image.getLong(0x20);
        for (int i = 0; i < (image.getShort(0x38) & 0xffff); i++) {
            int header = (int) (programHeaders + (long) i * (image.getShort(0x36) & 0xffff));
            if (image.getInt(header) == 1) { // PT_LOAD: offset, virtual address, size in the file
                loads.add(
                        new long[] {image.getLong(header + 8), image.getLong(header + 16), image.getLong(header + 32)});
                firstLoad = Math.min(firstLoad, image.getLong(header + 16));
            }
        }
        // The mapping at file offset 0 holds the first loadable segment, placed at its page-aligned virtual address.
        long bias = base - (firstLoad & ~0xfffL);
        long[] function = function(image, symbol);
        long value = function[0];
        int size = (int) function[1];
        long fileOffset = -1;
        for (long[] load : loads) {
            if (value >= load[1] && value + size <= load[1] + load[2]) {
                fileOffset = value - load[1] + load[0];
            }
        }
        if (fileOffset < 0 || size <= 0) {
            throw new IOException(symbol + " lies in no loaded segment of " + library);
        }
        byte[] header = java.util.Arrays.copyOf(image.array(), 64);
        byte[] code = java.util.Arrays.copyOfRange(image.array(), (int) fileOffset, (int) fileOffset + size);
        if (!java.util.Arrays.equals(memory.read(bias + firstLoad, 64), header)
                || !java.util.Arrays.equals(memory.read(bias + value, size), code)) {
            throw new IOException("the loaded " + library + " is not the image read (another build of netty-tcnative)");
        }
        return new TcnativeFunction(bias + value, library);
    }

    /** {@code symbol}'s value and size from the image's {@code .symtab}, when it is a function. */
    private static long[] function(ByteBuffer image, String symbol) throws IOException {
        long sections = image.getLong(0x28);
        int entry = image.getShort(0x3a) & 0xffff;
        int count = image.getShort(0x3c) & 0xffff;
        byte[] wanted = symbol.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < count; i++) {
            int section = (int) (sections + (long) i * entry);
            if (image.getInt(section + 4) != 2) { // SHT_SYMTAB
                continue;
            }
            int strings = (int) (sections + (long) image.getInt(section + 40) * entry);
            long stringsAt = image.getLong(strings + 24);
            long symbols = image.getLong(section + 24);
            long symbolsSize = image.getLong(section + 32);
            for (long at = symbols; at + 24 <= symbols + symbolsSize; at += 24) {
                int p = (int) at;
                if ((image.get(p + 4) & 0xf) == 2 && named(image, (int) (stringsAt + image.getInt(p)), wanted)) {
                    return new long[] {image.getLong(p + 8), image.getLong(p + 16)};
                }
            }
        }
        throw new IOException("no function " + symbol + " in the symbol table of netty-tcnative");
    }

    private static boolean named(ByteBuffer image, int at, byte[] wanted) {
        for (int i = 0; i < wanted.length; i++) {
            if (image.get(at + i) != wanted[i]) {
                return false;
            }
        }
        return image.get(at + wanted.length) == 0;
    }

    /** The library's bytes: the mapped file while it exists, else the copy in the jar Netty loaded it from. */
    private static byte[] image(String library) throws IOException {
        Path file = Path.of(library);
        if (Files.isRegularFile(file)) {
            return Files.readAllBytes(file);
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String resource = "META-INF/native/libnetty_tcnative_" + (os.contains("linux") ? "linux" : os) + "_"
                + (arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : "aarch_64") + ".so";
        ClassLoader loader = io.netty.internal.tcnative.SSL.class.getClassLoader();
        try (InputStream in = loader == null ? null : loader.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException(library + " is gone and there is no " + resource + " to read");
            }
            return in.readAllBytes();
        }
    }
}
