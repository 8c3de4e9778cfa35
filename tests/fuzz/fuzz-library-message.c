/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: one message from the helper, decoded the way the library
 * does it (sa-connection.c, handle_message()): exactly one frame per
 * message, no byte left over, no more fds than declared, a known type,
 * and its fixed words through sa_proto_decode_words().
 *
 * Input: byte 0 is the number of fds that "arrived" with the message
 * (low two bits) and whether some were lost (bit 2, MSG_CTRUNC); the rest
 * is the message. Every frame taken must encode back to the same bytes.
 */
#include <string.h>

#include "fuzz.h"
#include "sa-protocol.h"

/* The library's receive buffer: one byte more than the largest message
 * (an OUTPUT), so that anything longer shows as MSG_TRUNC. */
#define LIBRARY_BUFFER (SA_PROTO_MAX_REPLY + 1)

static int
take_message (const uint8_t *data, size_t len, unsigned n_fds, int fds_lost)
{
  SaProtoHeader header;
  const uint8_t *payload;
  uint32_t words[4];
  size_t n_words;
  uint8_t again[SA_PROTO_REPLY_MAX_SIZE];
  const uint8_t *bytes;
  uint32_t stream;
  size_t n;

  if (sa_proto_next_frame (data, len, &header, &payload) != SA_PROTO_OK ||
      SA_PROTO_HEADER_SIZE + header.length != len ||
      n_fds > header.n_fds || (!fds_lost && n_fds != header.n_fds))
    return 0;

  FUZZ_CHECK (header.length <= SA_PROTO_MAX_PAYLOAD);

  switch (header.type)
    {
    case SA_MSG_HELLO:
    case SA_MSG_SPAWNED:
    case SA_MSG_SPAWN_FAILED:
    case SA_MSG_EXITED:
    case SA_MSG_GROUP_GONE:
    case SA_MSG_STARTING:
    case SA_MSG_WROTE:
      /* A frame may declare up to SA_PROTO_MAX_SPAWN_FDS (a SPAWN), but
       * no reply of the helper more than SA_PROTO_MAX_FDS. */
      FUZZ_CHECK (header.n_fds <= SA_PROTO_MAX_FDS);
      n_words = sa_proto_words_for_type (header.type);
      FUZZ_CHECK (n_words <= 2);
      if (sa_proto_decode_words (&header, payload, words, n_words) != SA_PROTO_OK)
        return 0;
      /* A wrong count is refused, whatever the payload. */
      FUZZ_CHECK (sa_proto_decode_words (&header, payload, words, n_words + 1) != SA_PROTO_OK);
      FUZZ_CHECK (sa_proto_encode_words (again, header.type, header.n_fds, header.id,
                                         words, n_words) == len);
      FUZZ_CHECK (memcmp (again, data, len) == 0);
      return 1;
    case SA_MSG_OUTPUT:
      if (header.n_fds != 0 ||
          sa_proto_output_decode (&header, payload, &stream, &bytes, &n) != SA_PROTO_OK)
        return 0;
      FUZZ_CHECK (n <= SA_PROTO_MAX_RELAY && bytes + n == data + len);
      FUZZ_CHECK (sa_proto_output_encode (again, header.id, stream, n) ==
                  SA_PROTO_HEADER_SIZE + 4);
      FUZZ_CHECK (memcmp (again, data, SA_PROTO_HEADER_SIZE + 4) == 0);
      return 1;
    default:
      /* SPAWN, KILL, INPUT and CLOSE never come from the helper. */
      return 0;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1 || size - 1 > LIBRARY_BUFFER)
    return 0;              /* longer: MSG_TRUNC, refused before decoding */

  /* data + 1 ends exactly where the message does: ASan sees any read
   * past it. */
  take_message (data + 1, size - 1, data[0] & 3, (data[0] & 4) != 0);
  return 0;
}
