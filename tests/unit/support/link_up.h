/* Brings a host interface up (SIOCSIFFLAGS), for the tests on real taps:
 * a tap that is down refuses writes (EIO) and gets no frames. 0 or -1. */
#ifndef AVP_TEST_LINK_UP_H
#define AVP_TEST_LINK_UP_H

int test_set_link_up(const char *ifname);

#endif
