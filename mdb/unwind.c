/* unwind: the engine's stack unwinder: the loop that asks an OS module's steps in order for
 * each caller, and the text and JSON printers of the frames it found. */
#include <string.h>

#include "mdb/unwind.h"

struct cfi_regs unwind_regs_from_x86(const struct x86_regs *x)
{
	struct cfi_regs r = { 0 };
	for (unsigned i = 0; i < CFI_NREGS; i++) {
		const struct x86_reg_desc *d = x86_reg_by_dwarf(i);
		if (d) {
			r.r[i] = x86_reg_get(x, d);
			r.known |= 1u << i;
		}
	}
	return r;
}

void unwind_add(struct unwind_stack *s, const struct unwind_frame *f)
{
	if (s->n < (s->max ? s->max : UNWIND_MAX))
		s->f[s->n++] = *f;
}

void unwind_walk(struct unwind_state *st, const unwind_step_fn *steps, size_t n, struct unwind_stack *s)
{
	size_t max = s->max ? s->max : UNWIND_MAX;
	while (s->n < max) {
		struct unwind_frame f = { .kind = UNWIND_CALLER };
		struct err e = { 0 };
		uint64_t pc = st->r.r[CFI_RIP], sp = st->r.r[CFI_RSP];
		enum unwind_rc rc = UNWIND_END; /* no step knows the frame: it is the outermost */
		for (size_t i = 0; i < n; i++)
			if ((rc = steps[i](st, &f, &e)) != UNWIND_CANNOT)
				break;
		s->stop = f;
		if (rc == UNWIND_CANNOT || rc == UNWIND_END) {
			s->why = UNWIND_STOP_END;
			return;
		}
		if (rc == UNWIND_ERROR) {
			s->why = UNWIND_STOP_ERROR;
			snprintf(s->stopped, sizeof(s->stopped), "%s", e.msg[0] ? e.msg : "unwinding failed");
			return;
		}
		if (f.kind == UNWIND_CALLER && st->r.r[CFI_RIP] == pc && st->r.r[CFI_RSP] == sp) {
			s->why = UNWIND_STOP_STILL;
			snprintf(s->stopped, sizeof(s->stopped), "the stack does not move at 0x%llx", (unsigned long long)pc);
			return;
		}
		st->top = f.kind == UNWIND_TOP;
		unwind_add(s, &f);
	}
	s->why = UNWIND_STOP_LIMIT;
	s->stop = (struct unwind_frame){ 0 };
	snprintf(s->stopped, sizeof(s->stopped), "more than %zu frames", max);
}

size_t unwind_frame_lines(struct target *t, const struct unwind_frame *f, struct target_inline *inl,
			  char fl[][TARGET_LINE_LEN])
{
	fl[0][0] = 0;
	return f->pc ? target_frame_lines(t, f->is_return ? f->pc - 1 : f->pc, inl, UNWIND_INLINE_MAX, fl) : 0;
}

static void frame_json(struct target *t, const struct unwind_frame *f, FILE *out)
{
	const struct symbol *sym = f->pc ? symtab_lookup_code(&t->syms, f->is_return ? f->pc - 1 : f->pc) : NULL;
	struct target_inline inl[UNWIND_INLINE_MAX];
	char fl[UNWIND_INLINE_MAX + 1][TARGET_LINE_LEN];
	size_t n = unwind_frame_lines(t, f, inl, fl);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "{\"frame\": \"0x%llx\", \"pc\": \"0x%llx\", \"function\": ", (unsigned long long)f->cfa,
			(unsigned long long)f->pc);
		json_write_str(out, inl[i].function);
		fputs(", \"offset\": null", out);
		target_json_file_line(out, fl[i]);
		fprintf(out, ", \"inlined\": true, \"unwinder\": \"%s\"}, ", f->how);
	}
	fprintf(out, "{\"frame\": \"0x%llx\", \"pc\": \"0x%llx\", \"function\": ", (unsigned long long)f->cfa,
		(unsigned long long)f->pc);
	if (sym) {
		json_write_str(out, sym->name);
		fprintf(out, ", \"offset\": %llu", (unsigned long long)(f->pc - sym->addr));
	} else {
		fputs("null, \"offset\": null", out);
	}
	target_json_file_line(out, fl[n]);
	fprintf(out, ", \"unwinder\": \"%s\"}", f->how);
}

void unwind_print_json(struct target *t, const struct unwind_stack *s, FILE *out)
{
	fputs("[", out);
	for (size_t i = 0; i < s->n; i++) {
		fputs(i ? ", " : "", out);
		frame_json(t, &s->f[i], out);
	}
	if (s->stopped[0]) {
		fputs(s->n ? ", {\"stopped\": " : "{\"stopped\": ", out);
		json_write_str(out, s->stopped);
		fputs("}", out);
	}
	fputs("]\n", out);
}

/* One line of $c (fl: "file:line" or ""). */
static void text_line(const struct unwind_frame *f, const char *name, bool inlined, const char *fl, FILE *out)
{
	char at[180] = "";
	snprintf(at, sizeof(at), "%s%s%s", inlined ? " [inlined]" : "", fl[0] ? " at " : "", fl);
	if (f->kind == UNWIND_TOP)
		fprintf(out, "%s()%s\n", name, at);
	else if (f->kind == UNWIND_GUESS)
		fprintf(out, "  ? %s()%s\n", name, at);
	else
		fprintf(out, "%016llx %s()%s\n", (unsigned long long)f->cfa, name, at);
}

void unwind_print_text(struct target *t, const struct unwind_stack *s, const struct unwind_print *p, FILE *out)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct unwind_frame *f = &s->f[i];
		struct target_inline inl[UNWIND_INLINE_MAX];
		char sym[128], fl[UNWIND_INLINE_MAX + 1][TARGET_LINE_LEN];
		size_t n = unwind_frame_lines(t, f, inl, fl);
		if (!target_symbolize(t, f->pc, f->is_return, sym, sizeof(sym)))
			snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)f->pc);
		if (f->interrupted)
			fprintf(out, "  -- interrupted --\n");
		for (size_t k = 0; k < n; k++)
			text_line(f, inl[k].function, true, fl[k], out);
		text_line(f, sym, false, fl[n], out);
	}
	if (s->why == UNWIND_STOP_ERROR && s->stop.pc && p && p->leaves_text) {
		fprintf(out, "  0x%llx() %s\n", (unsigned long long)s->stop.pc, p->leaves_text);
	} else if (s->stopped[0]) {
		fprintf(out, "  (unwinding stopped: %s)\n", s->stopped);
	}
}
