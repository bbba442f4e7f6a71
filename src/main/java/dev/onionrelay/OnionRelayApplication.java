package dev.onionrelay;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class OnionRelayApplication {
    public static void main(String[] args) {
        SpringApplication.run(OnionRelayApplication.class, args);
    }
}
