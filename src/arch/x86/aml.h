/* A small AML byte-code writer for the DSDT (ACPI 6.5, section 20.2 "AML
 * Grammar Definition"; resource descriptors in section 6.4).
 *
 * Output goes into a caller-provided buffer. Errors are sticky: after the
 * first failure (-ENOSPC when the buffer is full, -EINVAL for a malformed
 * name or unbalanced nesting) every later call does nothing and returns the
 * same error, so a builder can emit a whole table and check once with
 * aml_finish(). Each call also returns that status for callers that want
 * to stop early.
 *
 * Constructs with a PkgLength (Scope, Device, Package, Buffer) are opened
 * with *_begin and closed with aml_end(); the length is computed at close
 * and inserted in front of the body in its smallest encoding. */
#ifndef AVP_ARCH_X86_AML_H
#define AVP_ARCH_X86_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

enum aml_open_kind { AML_OPEN_PKG, AML_OPEN_BUFFER, AML_OPEN_RESTEMPLATE };

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	unsigned int depth;
	struct {
		enum aml_open_kind kind;
		size_t body; /* offset where the construct's body starts */
	} open[AML_MAX_DEPTH];
};

void aml_init(struct aml *a, void *buf, size_t cap);
/* 0 and the number of bytes written, or the first error (-EINVAL when a
 * construct is still open). */
int aml_finish(struct aml *a, size_t *len);

int aml_bytes(struct aml *a, const void *data, size_t len);

/* Smallest encoding of a PkgLength whose value (which counts the encoding
 * itself) covers body_len bytes after it: writes 1-4 bytes to out and
 * returns how many, or -EINVAL when body_len needs more than 28 bits. */
int aml_encode_pkglength(size_t body_len, uint8_t out[4]);

/* NameString: "\_SB_.VR00", "_HID", "^PCI0.S00_". Segments shorter than 4
 * characters are padded with '_' (section 20.2.2: NameSeg). */
int aml_name_string(struct aml *a, const char *path);

/* Data objects. Integers use Zero/One/Ones or the smallest prefix. */
int aml_integer(struct aml *a, uint64_t v);
int aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501") as the compressed DWord integer (section 6.1.5). */
int aml_eisaid(struct aml *a, const char *id);
/* Buffer() holding exactly these bytes. */
int aml_buffer(struct aml *a, const void *data, size_t len);

/* DefName: Name(path, <data object>) — the caller writes the object next. */
int aml_name(struct aml *a, const char *path);

/* PkgLength constructs, each closed by aml_end(). */
int aml_scope_begin(struct aml *a, const char *path);
int aml_device_begin(struct aml *a, const char *path);
int aml_package_begin(struct aml *a, uint8_t nelems);
int aml_end(struct aml *a);

/* ResourceTemplate(): a Buffer of resource descriptors ended by an End Tag
 * with a checksum; aml_end() closes it. */
int aml_restemplate_begin(struct aml *a);

/* Descriptors (section 6.4.2 small, 6.4.3 large resource data types). */
#define AML_MEM_READ_ONLY 0
#define AML_MEM_READ_WRITE 1
int aml_res_memory32_fixed(struct aml *a, int rw, uint32_t base, uint32_t size);

/* Extended Interrupt Descriptor flags (section 6.4.3.6). */
#define AML_IRQ_CONSUMER 0x01
#define AML_IRQ_EDGE 0x02
#define AML_IRQ_ACTIVE_LOW 0x04
#define AML_IRQ_SHARED 0x08
#define AML_IRQ_WAKE 0x10
int aml_res_ext_irq(struct aml *a, uint8_t flags, uint32_t gsi);

/* A host bridge's windows (6.4.3.5): the bus numbers [min, max] it
 * decodes and a 32-bit memory range it forwards (producer, fixed). */
int aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
int aml_res_dword_memory(struct aml *a, uint32_t base, uint32_t size);

/* I/O Port Descriptor with 16-bit decode (section 6.4.2.5). */
int aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags(): edge-triggered, active-high, exclusive (section 6.4.2.1). */
int aml_res_irq_noflags(struct aml *a, uint16_t mask);

#endif
