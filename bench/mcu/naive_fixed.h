/* bench/mcu/naive_fixed.h: the naive loops of naive_fixed.c, for conv.h's layer. */
#ifndef NAIVE_FIXED_H
#define NAIVE_FIXED_H

void fixed_forward(const float *x, const float *w, const float *b, float *y);
void fixed_grad_weight(const float *x, const float *dy, float *dw);
void fixed_grad_input(const float *w, const float *dy, float *dx);
void fixed_grad_bias(const float *dy, float *db);

#endif
