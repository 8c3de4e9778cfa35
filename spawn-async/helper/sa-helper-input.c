/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa-helper-input.c: the helper's input stream, frame by frame.
 *
 * See sa-helper-input.h. Every check that a frame from the library
 * passes before the helper acts on it is here; what the helper does
 * then (spawn, signal, answer) is in sa-helper.c.
 */
#include "sa-helper-input.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INPUT_SHRINK_ABOVE   (1024 * 1024)

uint8_t *
sa_helper_input_reserve (SaHelperInput *input, size_t room)
{
  size_t capacity = input->capacity ? input->capacity : 64 * 1024;
  uint8_t *data;

  if (input->capacity - input->len >= room)
    return input->data + input->len;
  while (capacity - input->len < room)
    capacity *= 2;
  data = realloc (input->data, capacity);
  if (data == NULL)
    return NULL;
  input->data = data;
  input->capacity = capacity;
  return input->data + input->len;
}

static void
close_pending_fds (SaHelperInput *input)
{
  for (size_t i = 0; i < input->n_fds; i++)
    close (input->fds[i]);
  input->n_fds = 0;
}

const char *
sa_helper_input_add_fds (SaHelperInput *input, size_t at, const int *fds, size_t n_fds)
{
  const char *error = NULL;

  if (input->n_fds > 0)
    error = "descriptors that no frame took";
  else if (n_fds > SA_PROTO_MAX_SPAWN_FDS)
    error = "too many descriptors";
  if (error != NULL)
    {
      close_pending_fds (input);
      for (size_t i = 0; i < n_fds; i++)
        close (fds[i]);
      return error;
    }
  memcpy (input->fds, fds, n_fds * sizeof (int));
  input->n_fds = n_fds;
  input->fds_at = at;
  return NULL;
}

static const char *
take_hello (SaHelperInput *input, const SaProtoHeader *header, const uint8_t *payload)
{
  uint32_t words[2];

  if (input->greeted ||
      sa_proto_decode_words (header, payload, words, 2) != SA_PROTO_OK)
    return "unexpected HELLO frame";
  input->greeted = true;
  sa_helper_on_hello (words[0]);
  return NULL;
}

/* The frame at offset takes the pending descriptors when it declares
 * them: exactly those that came with the datagram it starts. */
static const char *
take_fds (SaHelperInput *input, const SaProtoHeader *header, size_t offset, int *fds)
{
  if (input->n_fds > 0 && offset == input->fds_at)
    {
      if (header->n_fds != input->n_fds)
        return "descriptors that do not match their frame";
      memcpy (fds, input->fds, input->n_fds * sizeof (int));
      input->n_fds = 0;
      return NULL;
    }
  if (header->n_fds > 0)
    return "a frame without its descriptors";
  return NULL;
}

static const char *
take_spawn (const SaProtoHeader *header, const uint8_t *payload, int *fds)
{
  SaSpawnRequest request;
  int ret = sa_proto_spawn_decode (header, payload, &request);

  if (ret == SA_PROTO_NOMEM)
    {
      for (uint16_t i = 0; i < header->n_fds; i++)
        close (fds[i]);
      sa_helper_on_spawn_nomem (header->id);
      return NULL;
    }
  if (ret != SA_PROTO_OK || sa_helper_has_child (header->id))
    {
      sa_proto_spawn_clear (&request);
      for (uint16_t i = 0; i < header->n_fds; i++)
        close (fds[i]);
      return "malformed SPAWN frame";
    }
  sa_helper_on_spawn (header->id, &request, fds);
  sa_proto_spawn_clear (&request);
  return NULL;
}

static const char *
take_kill (const SaProtoHeader *header, const uint8_t *payload)
{
  uint32_t words[2];

  if (sa_proto_decode_words (header, payload, words, 2) != SA_PROTO_OK ||
      words[0] < 1 || words[0] >= NSIG || (words[1] & ~SA_KILL_FLAGS_ALL) != 0)
    return "malformed KILL frame";
  sa_helper_on_kill (header->id, (int) words[0], words[1]);
  return NULL;
}

static const char *
take_close (const SaProtoHeader *header, const uint8_t *payload)
{
  uint32_t which;

  if (sa_proto_decode_words (header, payload, &which, 1) != SA_PROTO_OK ||
      which == 0 || (which & ~SA_CLOSE_ALL) != 0)
    return "malformed CLOSE frame";
  sa_helper_on_close (header->id, which);
  return NULL;
}

static const char *
take_frame (SaHelperInput *input, const SaProtoHeader *header, const uint8_t *payload,
            size_t offset)
{
  int fds[SA_PROTO_MAX_SPAWN_FDS];
  const char *error = take_fds (input, header, offset, fds);

  if (error != NULL)
    return error;
  if (!input->greeted && header->type != SA_MSG_HELLO)
    return "expected HELLO";

  switch (header->type)
    {
    case SA_MSG_HELLO:
      return take_hello (input, header, payload);
    case SA_MSG_SPAWN:
      return take_spawn (header, payload, fds);
    case SA_MSG_KILL:
      return take_kill (header, payload);
    case SA_MSG_INPUT:       /* the header decoder checked the length */
      return sa_helper_on_input (header->id, payload, header->length);
    case SA_MSG_CLOSE:
      return take_close (header, payload);
    default:
      return "unexpected frame";
    }
}

const char *
sa_helper_input_process (SaHelperInput *input)
{
  const char *error = NULL;
  size_t offset = 0;

  if (input->len == 0)
    return NULL;

  while (error == NULL && offset < input->len)
    {
      SaProtoHeader header;
      const uint8_t *payload;
      int ret = sa_proto_next_frame (input->data + offset, input->len - offset,
                                     &header, &payload);

      if (ret == SA_PROTO_NEED_MORE)
        break;
      if (ret != SA_PROTO_OK)
        return "malformed frame header";
      error = take_frame (input, &header, payload, offset);
      offset += SA_PROTO_HEADER_SIZE + header.length;
    }
  if (error == NULL && input->n_fds > 0 && input->fds_at < offset)
    error = "descriptors that no frame took";
  if (error != NULL)
    {
      close_pending_fds (input);
      return error;
    }

  input->len -= offset;
  input->fds_at -= input->n_fds > 0 ? offset : 0;
  if (offset > 0 && input->len > 0)
    memmove (input->data, input->data + offset, input->len);

  if (input->len == 0 && input->capacity > INPUT_SHRINK_ABOVE)
    sa_helper_input_clear (input);
  return error;
}

void
sa_helper_input_clear (SaHelperInput *input)
{
  close_pending_fds (input);
  free (input->data);
  input->data = NULL;
  input->len = 0;
  input->capacity = 0;
}
