/* The speed floor for scripts/bench.sh: a bare libpcap pcap_next_ex loop over a capture
 * file, every packet's bytes touched (one per cache line), nothing else.
 *   cc -O2 -o floor scripts/bench-floor.c -lpcap && ./floor FILE */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: floor FILE\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "floor: %s: %s\n", argv[1], err);
        return 2;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t packets = 0, bytes = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->caplen;
        for (uint32_t i = 0; i < h->caplen; i += 64) sum += data[i];
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "floor: %s: %s\n", argv[1], pcap_geterr(p));
        return 1;
    }
    printf("packets=%llu bytes=%llu checksum=%llu\n", (unsigned long long)packets,
           (unsigned long long)bytes, (unsigned long long)sum);
    pcap_close(p);
    return 0;
}
