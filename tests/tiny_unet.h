/* tiny_unet.h - the smallest UNet the trainer accepts (one level of 2 channels, no attention),
 * for tests and fuzz harnesses that need a real trainer and its files, not a real model. */
#ifndef GMMDIFF_TINY_UNET_H
#define GMMDIFF_TINY_UNET_H

#include "gmmdiff/train.h"

/* the trainer's default UNet for data d and mode cond, cut down to one 2-channel level */
static inline void tiny_unet(gd_unet_config *u, const gd_dataset *d, gd_cond_mode cond) {
    gd_train_default_unet(u, d, cond);
    u->n_blocks = 1;
    u->block_out_channels[0] = 2;
    u->down_attn[0] = u->up_attn[0] = 0;
    u->add_attention = 0;
    u->norm_num_groups = 2;
    u->attention_head_dim = 0;
}

#endif
