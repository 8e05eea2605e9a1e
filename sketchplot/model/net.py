"""The sketch model: a decoder-only causal transformer with a mixture-density output.

nanoGPT-style (pre-LayerNorm blocks, learned positions) over stroke-5 points. Each input
point embeds its offset (linear projection of dx, dy), its pen state (embedding of 3:
draw, lift, end) and its position; a class embedding is added when the model serves several
classes. The head predicts the next point: a bivariate Gaussian mixture over (dx, dy)
(M weights, means, sigmas, correlations) and 3 pen logits.

Sigmas go through ELU + 1 + a small floor by default rather than exp: exp explodes on both
sides and lets components collapse onto single points, the main source of loss spikes.

With ``latent_size > 0`` it is Sketch-RNN's conditional VAE: a bidirectional transformer
encoder (``SketchEncoder``) maps a whole sketch to mu and sigma_hat of a latent code z, and the
decoder adds a linear map of z to every input embedding (the start token's included), which is
Sketch-RNN's "z concatenated to every input" followed by the input projection. With
``latent_tokens`` z comes in parts, one per run of the sketch's points, and the decoder reads
them as tokens before the start token instead (``ModelConfig.latent_tokens``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sketchplot.model.config import PEN_END, Mixture, ModelConfig, attention_allowed, latent_token_of_point
from sketchplot.model.mixture import offset_log_likelihood, point_log_likelihood


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x, attn_mask=None):
        """x: (B, T, C). ``attn_mask`` (broadcast to (B, H, T, T), True where a query may look)
        replaces the plain causal mask of a causal block; the encoder's masks out padding."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask,
            is_causal=self.causal and t > 1 and attn_mask is None,
            dropout_p=self.dropout if self.training else 0.0,
        )
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = SelfAttention(cfg, causal)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd),
            nn.GELU(),
            nn.Linear(4 * cfg.n_embd, cfg.n_embd),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x, attn_mask=None):
        x = x + self.attn(self.ln1(x), attn_mask)
        return x + self.mlp(self.ln2(x))


class LatentNorm(nn.Module):
    """mu standardised over the batch, times a fixed scale (BN-VAE): the codes of a batch
    always spread by ``scale``, so they keep telling sketches apart. Running statistics serve
    evaluation and inference, as in batch normalisation."""

    def __init__(self, size: int, scale: float, momentum: float = 0.01):
        super().__init__()
        self.scale, self.momentum = scale, momentum
        self.register_buffer("running_mean", torch.zeros(size))
        self.register_buffer("running_var", torch.ones(size))

    def forward(self, mu):
        if self.training and mu.shape[0] > 1:
            mean, var = mu.mean(0), mu.var(0, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (mu - mean) / torch.sqrt(var + 1e-5) * self.scale


class SketchEncoder(nn.Module):
    """Sketch -> (mu, sigma_hat) of q(z | sketch): non-causal blocks, then the mean of the
    real points' features (padding excluded), projected to 2 * latent_size; with latent tokens
    the mean of each token's run of points, each projected to its part of z."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.offset_embed = nn.Linear(2, cfg.n_embd)
        self.pen_embed = nn.Embedding(3, cfg.n_embd)
        self.pos_embed = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, causal=False) for _ in range(cfg.encoder_layers))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, 2 * cfg.latent_part)
        self.tokens = cfg.latent_tokens
        self.mu_norm = LatentNorm(cfg.latent_size, cfg.mu_norm_scale) if cfg.mu_norm_scale > 0 else None

    def forward(self, sketch, mask):
        """sketch: (B, T, 5) stroke-5 points with the end point; mask: (B, T) 1 for them."""
        t = sketch.shape[1]
        pos = torch.arange(t, device=sketch.device)
        x = self.offset_embed(sketch[..., :2]) + self.pen_embed(sketch[..., 2:].argmax(-1)) + self.pos_embed(pos)
        x = self.drop(x)
        keys = (mask > 0)[:, None, None, :]
        for block in self.blocks:
            x = block(x, keys)
        length = mask.sum(1, keepdim=True).long()
        token = latent_token_of_point(torch.arange(t, device=sketch.device)[None], length, self.tokens)
        weights = F.one_hot(token, max(self.tokens, 1)) * mask[..., None]  # (B, T, K)
        weights = weights / weights.sum(1, keepdim=True).clamp(min=1)
        pooled = torch.einsum("btk,btc->bkc", weights, self.ln_f(x))
        mu, sigma_hat = (part.flatten(1) for part in self.head(pooled).chunk(2, dim=-1))  # token-major
        if self.mu_norm is not None:
            mu = self.mu_norm(mu)
        return mu, sigma_hat


class SketchTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.offset_embed = nn.Linear(2, cfg.n_embd)
        self.pen_embed = nn.Embedding(3, cfg.n_embd)
        self.pos_embed = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.class_embed = nn.Embedding(max(cfg.n_classes, 1), cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.head_size)
        if cfg.conditional:
            self.encoder = SketchEncoder(cfg)
            self.latent_embed = nn.Linear(cfg.latent_part, cfg.n_embd)
        if cfg.latent_tokens:
            self.latent_token_embed = nn.Embedding(cfg.latent_tokens, cfg.n_embd)
        if cfg.absolute_position:
            self.position_embed = nn.Linear(2, cfg.n_embd)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))
        if cfg.conditional:  # unit-variance features in, codes that differ between sketches out
            nn.init.normal_(self.encoder.head.weight, mean=0.0, std=1.0 / math.sqrt(cfg.n_embd))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def encode(self, sketch, mask):
        """(mu, sigma_hat) of the latent code of each sketch; sigma = exp(sigma_hat / 2)."""
        return self.encoder(sketch, mask)

    def forward(self, strokes, classes=None, z=None, keep=None) -> Mixture:
        """strokes: (B, T, 5) stroke-5 inputs; the next-point mixture at every step.
        z: (B, latent_size) latent codes, required by a conditional model. keep: (B, T), 0 where
        an input point is hidden (word dropout): its offset, pen and absolute position are left
        out, so that step sees only its place in the sequence, the class and z.

        Training only: inference runs the same maths on numpy (``decoders.TransformerDecoder``).
        """
        if self.cfg.conditional and z is None:
            raise ValueError("a conditional model needs a latent code z")
        b, t, _ = strokes.shape
        if t > self.cfg.block_size:
            raise ValueError(f"sequence of {t} points exceeds block_size {self.cfg.block_size}")
        pos = torch.arange(t, device=strokes.device)
        pen = strokes[..., 2:].argmax(-1)
        point = self.offset_embed(strokes[..., :2]) + self.pen_embed(pen)
        x = (point if keep is None else point * keep[..., None]) + self.pos_embed(pos)
        if classes is None:
            classes = torch.zeros(b, dtype=torch.long, device=strokes.device)
        x = x + self.class_embed(classes)[:, None, :]
        if self.cfg.absolute_position:
            position = self.position_embed(torch.cumsum(strokes[..., :2], dim=1))
            x = x + (position if keep is None else position * keep[..., None])
        tokens = self.cfg.latent_tokens
        if tokens:
            x = torch.cat([self.latent_embed(z.unflatten(1, (tokens, -1))) + self.latent_token_embed.weight, x], 1)
        elif self.cfg.conditional:
            x = x + self.latent_embed(z)[:, None, :]
        x = self.drop(x)
        window = None
        if self.cfg.attention_window:
            window = torch.from_numpy(attention_allowed(t, 0, self.cfg.attention_window)).to(x.device)
        for block in self.blocks:
            x = block(x, window)
        return self.mixture(self.head(self.ln_f(x[:, tokens:])))

    def mixture(self, out) -> Mixture:
        m = self.cfg.n_mixture
        logit_pi, mu_x, mu_y, s_x, s_y, r, pen = out.split([m, m, m, m, m, m, out.shape[-1] - 6 * m], dim=-1)
        log_pi = F.log_softmax(logit_pi, dim=-1)
        component_pen = None
        if self.cfg.pen_head == "joint":
            component_pen = pen.unflatten(-1, (m, 3))
            pen = torch.logsumexp(log_pi[..., None] + F.log_softmax(component_pen, dim=-1), dim=-2)
        if self.cfg.sigma_activation == "exp":
            sigma_x, sigma_y = torch.exp(s_x), torch.exp(s_y)
        else:
            floor = 1.0 + self.cfg.sigma_floor
            sigma_x, sigma_y = F.elu(s_x) + floor, F.elu(s_y) + floor
        return Mixture(
            log_pi=log_pi,
            mu_x=mu_x,
            mu_y=mu_y,
            sigma_x=sigma_x,
            sigma_y=sigma_y,
            rho=torch.tanh(r) * 0.999,
            pen_logits=pen,
            component_pen_logits=component_pen,
        )


def kl_eta(step: int, eta_min: float, decay: float) -> float:
    """Sketch-RNN's KL annealing: eta_step = 1 - (1 - eta_min) * R^step."""
    return 1.0 - (1.0 - eta_min) * decay**step


def reparameterise(mu, sigma_hat, noise) -> torch.Tensor:
    """z = mu + sigma * noise with sigma = exp(sigma_hat / 2): differentiable in mu and sigma."""
    return mu + torch.exp(sigma_hat / 2.0) * noise


def input_keep_mask(noise: torch.Tensor, rate: float) -> torch.Tensor:
    """Which decoder input points stay visible under word dropout at ``rate`` (1.0 or 0.0
    per point), from uniform ``noise`` of the inputs' (B, T) shape; the start token always
    stays, so every sketch keeps its beginning."""
    keep = (noise >= rate).float()
    keep[:, 0] = 1.0
    return keep


def sample_offsets(mix: Mixture, temperature: float) -> torch.Tensor:
    """(..., 2) offsets drawn from the mixture at every step at once, by ``sample.sample_step``'s
    rule (component logits divided by the temperature, variances scaled by it) in torch: what
    free-running sampling would have drawn next, for training on the model's own samples."""
    logits = mix.log_pi / temperature
    # Gumbel-max: a NaN in the logits flows on into the loss (whose guard skips the step)
    # instead of stopping the run, and the pick needs no sync with the host.
    component = (logits - torch.empty_like(logits).exponential_().log()).argmax(-1, keepdim=True)
    pick = lambda value: value.gather(-1, component).squeeze(-1)  # noqa: E731
    mu_x, mu_y, rho = pick(mix.mu_x), pick(mix.mu_y), pick(mix.rho)
    s = math.sqrt(temperature)
    sigma_x, sigma_y = pick(mix.sigma_x) * s, pick(mix.sigma_y) * s
    n1, n2 = torch.randn_like(mu_x), torch.randn_like(mu_x)
    dx = mu_x + sigma_x * n1
    dy = mu_y + sigma_y * (rho * n1 + torch.sqrt(1.0 - rho**2) * n2)
    return torch.stack([dx, dy], dim=-1)


def own_sample_mask(
    targets: torch.Tensor, mask: torch.Tensor, rate: float, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, T) 1.0 where a decoder input point is to be replaced by the model's own guess: each
    point after the start token with probability ``rate`` (torch's generator), never the end,
    and none that word dropout hides (``keep`` 0): the decoder would not see the guess there,
    so a target moved by it would be noise."""
    real = mask[:, :-1] * (targets[:, :-1, 4] == 0)  # input t (= target t - 1) is a point
    replaced = torch.zeros_like(mask)
    replaced[:, 1:] = (torch.rand_like(real) < rate).float() * real
    return replaced if keep is None else replaced * keep


def own_sample_batch(
    inputs: torch.Tensor, targets: torch.Tensor, drawn: torch.Tensor, replaced: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) with the input points marked in ``replaced`` taken from the model's
    own guesses (``drawn[:, t - 1]``) and targets that lead back to the true next point:
    teacher forcing never shows the decoder a drifted pen, free-running sampling always does.

    The drift after step t, D_t, sums the errors of the run of replaced inputs ending at t (0
    after a true input); a true input after a run is the corrected offset true_t - D_{t-1},
    the target at t is true_target_t - D_t. Pen states stay the data's."""
    true = inputs[..., :2]
    guess = torch.zeros_like(true)
    guess[:, 1:] = drawn[:, :-1].to(true.dtype)
    error = (guess - true) * replaced[..., None]
    total = torch.cumsum(error, dim=1)
    steps = torch.arange(replaced.shape[1], device=replaced.device).expand_as(replaced)
    last_true = torch.cummax(torch.where(replaced > 0, torch.zeros_like(steps), steps), dim=1).values
    drift = total - total.gather(1, last_true[..., None].expand_as(total))
    drift_before = torch.cat([torch.zeros_like(drift[:, :1]), drift[:, :-1]], dim=1)
    offsets = torch.where(replaced[..., None] > 0, guess, true - drift_before)
    new_inputs = torch.cat([offsets, inputs[..., 2:]], dim=-1)
    new_targets = torch.cat([targets[..., :2] - drift, targets[..., 2:]], dim=-1)
    return new_inputs, new_targets


def pen_loss(logits: torch.Tensor, target: torch.Tensor, kind: str, gamma: float) -> torch.Tensor:
    """Per-point pen loss: cross-entropy, or focal loss that down-weights easy (draw) points."""
    log_p = F.log_softmax(logits, dim=-1).gather(-1, target[..., None]).squeeze(-1)
    if kind == "focal":
        return -((1.0 - log_p.exp()) ** gamma) * log_p
    return -log_p


def sketch_loss(mix: Mixture, target: torch.Tensor, mask: torch.Tensor, cfg: ModelConfig):
    """Training loss: mean offset NLL over real points + pen loss per real point.

    target: (B, T, 5) stroke-5 next points; mask: (B, T) 1 for real points, including the
    end-of-sketch point. Offsets of the end point are not scored (they are always 0). As in
    Sketch-RNN the pen term also covers the padding after the end (whose target is "end"),
    so the model keeps predicting the end once a sketch is over.
    """
    pen_target = target[..., 2:].argmax(-1)
    offset_mask = mask * (pen_target != PEN_END)
    if cfg.pen_head == "joint":
        offset_log_p, pen_log_p = point_log_likelihood(mix, target)
        pen_term = -pen_log_p.sum()
    else:
        offset_log_p = offset_log_likelihood(mix, target[..., 0], target[..., 1])
        pen_term = pen_loss(mix.pen_logits, pen_target, cfg.pen_loss, cfg.focal_gamma).sum()
    offset_term = (-offset_log_p * offset_mask).sum() / offset_mask.sum().clamp(min=1)
    pen_term = pen_term / mask.sum().clamp(min=1)
    return offset_term + pen_term, offset_term.detach(), pen_term.detach()
