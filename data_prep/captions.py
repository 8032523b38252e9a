"""Captions for the synthetic clips, written in HumanML3D's text-line format.

Each action offers verb phrases (VPs): generic ones and ones that state its parameters (speed, count, side,
direction, angle). A sentence is a subject plus one VP per action part, joined by connectives, in the simple
present ("walks") or the progressive ("is walking"). Every word comes from a small built-in lexicon that
gives its universal POS tag and lemma, so the `word/POS` token string is produced without a tagger:
NOUN and VERB tokens are lemmatised (except `left`), non-alphabetic tokens are dropped, numbers are NUM.

Template syntax: words separated by spaces; `<walk>` is a verb to conjugate; `word|POS` overrides the
lexicon's POS for that occurrence; `{poss}`, `{pron}`, `{refl}` are filled with the subject's possessive,
pronoun and reflexive; `{n}` is a number word; `{times}` is once / twice / <n> times.
"""
from __future__ import annotations

import re

__all__ = ['LEXICON', 'NUMBERS', 'VAGUE', 'verb_phrases', 'make_captions', 'caption_line', 'tokenize', 'parse_line']

NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve']

# verbs: lemma -> (third person singular, present participle)
_VERBS = {
    'walk': None, 'stroll': None, 'jog': ('jogs', 'jogging'), 'run': ('runs', 'running'), 'sprint': None,
    'step': ('steps', 'stepping'), 'take': ('takes', 'taking'), 'move': ('moves', 'moving'), 'turn': None,
    'rotate': ('rotates', 'rotating'), 'spin': ('spins', 'spinning'), 'jump': None, 'leap': None,
    'hop': ('hops', 'hopping'), 'squat': ('squats', 'squatting'), 'lunge': ('lunges', 'lunging'), 'kick': None,
    'punch': ('punches', 'punching'), 'wave': ('waves', 'waving'), 'raise': ('raises', 'raising'), 'lift': None,
    'lower': None, 'clap': ('claps', 'clapping'), 'bow': None, 'bend': None, 'straighten': None,
    'sit': ('sits', 'sitting'), 'stand': None, 'get': ('gets', 'getting'), 'rise': ('rises', 'rising'),
    'throw': None, 'toss': ('tosses', 'tossing'), 'do': ('does', 'doing'), 'make': ('makes', 'making'),
    'perform': None, 'shuffle': ('shuffles', 'shuffling'), 'sidestep': ('sidesteps', 'sidestepping'), 'hurry': ('hurries', 'hurrying'),
    'stretch': ('stretches', 'stretching'), 'hold': None, 'balance': ('balances', 'balancing'), 'face': ('faces', 'facing'),
    'go': ('goes', 'going'), 'return': None, 'crouch': ('crouches', 'crouching'), 'pivot': None, 'curve': ('curves', 'curving'),
    'veer': None, 'shift': None, 'bring': None, 'swing': None, 'reach': ('reaches', 'reaching'), 'put': ('puts', 'putting'),
}


def _forms(lemma):
    f = _VERBS[lemma]
    if f is None: f = (lemma + 's', lemma + 'ing')
    return f


_WORDS = """
a DET|an DET|the DET|his DET|her DET|their DET|both DET|each DET|another DET|all DET
person NOUN|man NOUN|woman NOUN|figure NOUN|human NOUN|guy NOUN|individual NOUN|someone PRON|somebody PRON
he PRON|she PRON|they PRON|it PRON|something PRON|himself PRON|herself PRON|themselves PRON|them PRON
step NOUN|steps NOUN step|time NOUN|times NOUN time|degree NOUN|degrees NOUN degree|leg NOUN|legs NOUN leg
foot NOUN|feet NOUN foot|hand NOUN|hands NOUN hand|arm NOUN|arms NOUN arm|fist NOUN|fists NOUN fist|head NOUN
knees NOUN knee|waist NOUN|ball NOUN|chair NOUN|seat NOUN|circle NOUN|curve NOUN|arc NOUN|direction NOUN
jacks NOUN jack|squat NOUN|squats NOUN squat|lunge NOUN|lunges NOUN lunge|kick NOUN|kicks NOUN kick
punch NOUN|punches NOUN punch|jump NOUN|jumps NOUN jump|hop NOUN|hops NOUN hop|bow NOUN|turn NOUN|pace NOUN
side NOUN|sides NOUN side|place NOUN|spot NOUN|air NOUN|line NOUN|position NOUN|way NOUN|distance NOUN
motion NOUN|object NOUN|weight NOUN|jog NOUN|quarter NOUN|half NOUN|body NOUN|shoulder NOUN
briefly ADV|overhand ADV|next ADV|some DET|little ADJ|behind ADP|while SCONJ|him PRON|that PRON
left ADJ|right ADJ|slow ADJ|quick ADJ|brisk ADJ|full ADJ|straight ADJ|deep ADJ|high ADJ|low ADJ|light ADJ
seated ADJ|steady ADJ|small ADJ|short ADJ|long ADJ|complete ADJ|opposite ADJ|single ADJ|other ADJ
forward ADV|forwards ADV|backward ADV|backwards ADV|ahead ADV|back ADV|slowly ADV|quickly ADV|fast ADV
briskly ADV|sideways ADV|around ADV|up ADV|down ADV|then ADV|twice ADV|once ADV|again ADV|deeply ADV
alternately ADV|rapidly ADV|repeatedly ADV|clockwise ADV|counterclockwise ADV|together ADV|slightly ADV
first ADV|overhead ADV|out ADV|leisurely ADV|gradually ADV|away ADV|quickly ADV|hard ADV|upward ADV
to ADP|with ADP|on ADP|in ADP|into ADP|from ADP|at ADP|of ADP|above ADP|over ADP|for ADP|by ADP
after ADP|before ADP|onto ADP|along ADP|in ADP|like ADP
and CCONJ|or CCONJ|is AUX|are AUX|hello INTJ
jumping VERB jump|throwing VERB throw|spreading VERB spread|alternating VERB alternate
zero NUM|one NUM|two NUM|three NUM|four NUM|five NUM|six NUM|seven NUM|eight NUM|nine NUM|ten NUM
eleven NUM|twelve NUM|ninety NUM|hundred NUM|eighty NUM
"""


def _build_lexicon():
    lex = {}
    for item in re.split(r'[|\n]', _WORDS):
        parts = item.split()
        if not parts: continue
        word, pos = parts[0], parts[1]
        lex.setdefault(word, (pos, parts[2] if len(parts) > 2 else word))
    for lemma in _VERBS:
        s3, ing = _forms(lemma)
        for w in (s3, ing):
            lex.setdefault('#v:' + w, ('VERB', lemma))
        lex.setdefault('#v:' + lemma, ('VERB', lemma))
    return lex


LEXICON = _build_lexicon()   # word -> (POS, lemma); verb forms are keyed '#v:<form>'


def _times(n): return {1: 'once', 2: 'twice'}.get(n, f'{NUMBERS[n]} times')


def _side(p): return p.get('side', '')


def _speed_adv(speed, rng):
    if speed == 'slow': return str(rng.choice(['slowly', 'slowly', 'at a slow pace']))
    if speed == 'fast': return str(rng.choice(['quickly', 'quickly', 'fast', 'briskly', 'at a fast|ADJ pace']))
    return ''


def verb_phrases(action, p, rng):
    """(specific, generic) lists of VP templates for one action part with parameters p.
    Specific VPs state the parameters that distinguish this clip (count, side, speed, ...)."""
    n = p.get('count', p.get('steps', 0))
    N = NUMBERS[n] if 0 < n < len(NUMBERS) else ''
    T = _times(n) if 0 < n < len(NUMBERS) else ''
    side = _side(p)
    sp = p.get('speed', 'normal')
    adv = _speed_adv(sp, rng)
    pre = adv if ' ' not in adv else {'slow': 'slowly', 'fast': 'quickly'}.get(sp, '')   # before a direction
    S, G = [], []
    if action == 'walk':
        G = ['<walk> forward', '<walk> ahead', '<walk> forwards', '<move> forward']
        if p['curve'] != 'none':
            c = p['curve']
            S = [f'<walk> in a curve to the {c}|NOUN', f'<walk> along an arc to the {c}|NOUN',
                 f'<walk> forward and gradually <turn> {c}|ADV', f'<walk> forward while <curve>|ING to the {c}|NOUN',
                 f'<take> {N} steps while <curve>|ING to the {c}|NOUN']
            if sp != 'normal': S += [f'<walk> {pre} in a curve to the {c}|NOUN']
        elif sp == 'slow':
            S = [f'<walk> forward {adv}', f'<walk> {pre} forward', '<stroll> forward', f'<take> {N} slow steps forward',
                 f'<walk> {N} steps forward {adv}', '<walk> forward leisurely', f'<walk> slowly in a straight line']
        elif sp == 'fast':
            S = [f'<walk> forward {adv}', f'<walk> {pre} forward', f'<take> {N} quick steps forward',
                 f'<walk> {N} steps forward {adv}', '<hurry> forward', '<walk> briskly ahead']
        else:
            S = [f'<take> {N} steps forward', f'<walk> {N} steps forward', f'<walk> forward {N} steps',
                 f'<take> {N} steps ahead', '<walk> straight forward', '<walk> forward in a straight line']
        if p['curve'] == 'none' and sp != 'normal':
            S += [f'<take> {N} steps forward']
    elif action == 'walk_backward':
        G = ['<walk> backward', '<walk> backwards', '<move> backward', '<step> back']
        S = [f'<take> {N} steps backward', f'<walk> backward {N} steps', f'<take> {N} steps back',
             f'<walk> {N} steps backwards']
        if sp == 'slow':
            S = [f'<walk> backward {adv}', f'{pre} <walk> backwards', f'<take> {N} slow steps backward',
                 f'<walk> backwards {adv} for {N} steps', '<step> back slowly']
    elif action == 'jog':
        G = ['<jog> forward', '<jog> ahead', '<jog> in a straight line', '<jog> forward at a steady pace']
        S = ['<jog> a short distance forward', '<jog> forward for a short distance'] if n <= 9 else \
            ['<jog> forward for a while', '<jog> a long way forward']
        S += ['<do> a light jog forward', '<jog> straight ahead']
    elif action == 'run':
        G = ['<run> forward', '<run> ahead', '<run> straight forward', '<run> quickly forward']
        S = ['<run> a short distance forward', '<sprint> forward briefly'] if n <= 10 else \
            ['<run> forward for a while', '<run> a long way forward', '<sprint> a long distance ahead']
        S += ['<run> fast in a straight line', '<sprint> forward']
    elif action == 'sidestep':
        G = [f'<sidestep> to the {side}|NOUN', f'<step> sideways to the {side}|NOUN', f'<move> sideways to the {side}|NOUN',
             f'<shuffle> to the {side}|NOUN']
        S = [f'<sidestep> to the {side}|NOUN {T}', f'<take> {N} side steps to the {side}|NOUN',
             f'<step> to the {side}|NOUN {T}', f'<shuffle> sideways to the {side}|NOUN {T}',
             f'<move> {N} steps to the {side}|NOUN sideways']
        if n == 1:
            S = [f'<take> one side step to the {side}|NOUN', f'<sidestep> once to the {side}|NOUN',
                 f'<step> sideways to the {side}|NOUN once']
    elif action == 'turn':
        if p['angle'] == 90:
            G = [f'<turn> {side}|ADV', f'<turn> to the {side}|NOUN', f'<turn> to {{poss}} {side}|NOUN']
            S = [f'<turn> ninety degrees to the {side}|NOUN', f'<rotate> ninety degrees to the {side}|NOUN',
                 f'<make> a quarter turn to the {side}|NOUN', f'<turn> {side}|ADV in place',
                 f'<turn> to face|VERB {{poss}} {side}|NOUN', f'<pivot> to the {side}|NOUN']
        else:
            G = ['<turn> around', '<turn> back around', '<turn> to face|VERB the opposite direction']
            S = [f'<turn> around to the {side}|NOUN', f'<turn> around to {{poss}} {side}|NOUN',
                 f'<turn> one hundred and eighty degrees to the {side}|NOUN', f'<make> a half turn to the {side}|NOUN',
                 f'<turn> around over {{poss}} {side}|ADJ shoulder']
    elif action == 'spin':
        d = p['direction']
        G = ['<spin> around', '<spin> in a full circle', '<turn> around in a complete circle', '<spin> around once']
        S = [f'<spin> around {d}', f'<spin> {d} in a full circle', f'<turn> in a full circle {d}',
             f'<make> a full turn {d}', f'<spin> {d}', f'<rotate> {d} all the way around']
    elif action == 'jump_forward':
        G = ['<jump> forward', '<leap> forward', '<jump> forward with both feet']
        S = [f'<jump> forward {T}', f'<leap> forward {T}', f'<jump> ahead {T}']
        S += ['<make> a single jump forward', '<do> one long jump forward'] if n == 1 else [f'<do> {N} jumps forward']
    elif action == 'jump_in_place':
        G = ['<jump> up and down', '<jump> in place', '<jump> on the spot']
        S = [f'<jump> {T}', f'<jump> up and down {T}', f'<jump> in place {T}', f'<do> {N} jumps in place']
        if n == 1: S = ['<jump> straight up once', '<jump> up once', '<do> a single jump in place', '<jump> once in place']
    elif action == 'hop':
        G = [f'<hop> on {{poss}} {side} leg', f'<hop> on the {side} foot', '<hop> on one leg', '<hop> on one foot']
        S = [f'<hop> on {{poss}} {side} foot {T}', f'<hop> {T} on the {side} leg', f'<do> {N} hops on {{poss}} {side} leg',
             f'<balance> on {{poss}} {side} leg and <hop> {T}']
        if p['direction'] == 'forward':
            S += [f'<hop> forward on {{poss}} {side} leg', f'<hop> forward {T} on the {side} foot']
            G = [g for g in G] + ['<hop> forward on one leg']
        else:
            S += [f'<hop> in place on {{poss}} {side} leg', f'<hop> on the spot on the {side} foot']
    elif action == 'jumping_jacks':
        G = ['<do> jumping jacks', '<perform> jumping jacks', '<do> some jumping jacks']
        S = [f'<do> {N} jumping jacks', f'<perform> {N} jumping jacks', f'<do> jumping jacks {T}']
    elif action == 'squat':
        G = ['<squat> down and <stand> back up', '<bend> {poss} knees into a squat', '<do> squats' if n > 1 else '<do> a squat']
        S = [f'<squat> {T}', f'<do> {N} squats' if n > 1 else '<do> one squat', f'<squat> down {T}',
             f'<squat> down and up {T}']
        if sp == 'slow': S = [f'<squat> down slowly {T}', f'<do> {N} slow squats' if n > 1 else '<do> one slow squat',
                              f'slowly <squat> down and <stand> up {T}']
        if sp == 'fast': S = [f'<squat> quickly {T}', f'<do> {N} quick squats' if n > 1 else '<do> one quick squat',
                              f'<squat> down and up rapidly {T}']
    elif action == 'lunge':
        G = [f'<lunge> forward with the {side} leg', f'<step> forward into a lunge with {{poss}} {side} foot',
             f'<do> a lunge with {{poss}} {side} leg forward']
        S = [f'<lunge> forward with {{poss}} {side} leg {T}', f'<do> {N} lunges with the {side} leg' if n > 1 else
             f'<do> one lunge with the {side} leg', f'<step> into a lunge with the {side} foot {T}']
    elif action == 'kick':
        h = p['height']
        G = [f'<kick> with {{poss}} {side} leg', f'<kick> {{poss}} {side} foot forward', f'<kick> forward with the {side} leg']
        S = [f'<kick> with {{poss}} {side} leg {T}', f'<kick> forward {T} with the {side} foot',
             f'<do> {N} kicks with {{poss}} {side} leg' if n > 1 else f'<do> one kick with {{poss}} {side} leg']
        S += ([f'<do> a high kick with the {side} leg', f'<kick> high with {{poss}} {side} foot'] if h == 'high' else
              [f'<do> a low kick with the {side} leg', f'<kick> low with {{poss}} {side} foot'])
        if n > 1: S[-2] = S[-2].replace('a high kick', f'{N} high kicks').replace('a low kick', f'{N} low kicks')
        if n > 1: S[-1] = S[-1] + f' {T}'
    elif action == 'punch':
        if side == 'both':
            G = ['<punch> with both hands', '<punch> forward with both fists', '<throw> punches with both hands']
            S = [f'<throw> {N} punches alternating hands', f'<punch> alternately with both fists {T}',
                 f'<punch> {T} with alternating hands', f'<throw> {N} punches with both fists']
        else:
            G = [f'<punch> forward with {{poss}} {side} hand', f'<punch> the air with {{poss}} {side} fist',
                 f'<punch> with the {side} arm']
            S = [f'<punch> with the {side} fist {T}', f'<throw> {N} punches with {{poss}} {side} hand' if n > 1 else
                 f'<throw> one punch with {{poss}} {side} hand', f'<punch> forward {T} with the {side} hand']
    elif action == 'wave':
        if side == 'both':
            G = ['<wave> with both hands', '<wave> both arms above {poss} head', '<raise> both hands and <wave>']
        else:
            G = [f'<wave> with {{poss}} {side} hand', f'<raise> {{poss}} {side} hand and <wave>',
                 f'<wave> hello with the {side} hand', f'<wave> {{poss}} {side} arm']
        S = [g + f' {T}' for g in G[:2]]
        if sp == 'slow': S = [g + ' slowly' for g in G[:2]] + [f'slowly <wave> {T}']
    elif action == 'raise_arms':
        if p['mode'] == 'up':
            if side == 'both':
                G = ['<raise> both arms above {poss} head', '<lift> {poss} arms up', '<raise> {poss} hands over {poss} head',
                     '<stretch> both arms up']
                S = ['<raise> both arms above {poss} head and <lower> them', '<lift> both hands up overhead and <put> them down']
            else:
                G = [f'<raise> {{poss}} {side} arm above {{poss}} head', f'<lift> the {side} hand up',
                     f'<raise> {{poss}} {side} hand up high', f'<reach> up with {{poss}} {side} arm']
                S = [f'<raise> {{poss}} {side} arm above {{poss}} head and <lower> it']
        else:
            if side == 'both':
                G = ['<raise> {poss} arms out to the sides', '<lift> both arms sideways', '<stretch> {poss} arms out to the sides']
                S = ['<raise> both arms out to the sides and <lower> them']
            else:
                G = [f'<raise> {{poss}} {side} arm out to the side', f'<lift> the {side} arm sideways',
                     f'<stretch> {{poss}} {side} arm out to the side']
                S = [f'<raise> {{poss}} {side} arm out to the side and <lower> it']
        S = S + G
    elif action == 'clap':
        G = ['<clap> {poss} hands', '<clap>', '<clap> {poss} hands together']
        S = [f'<clap> {T}', f'<clap> {{poss}} hands {T}', f'<clap> {N} times' if n > 2 else f'<clap> {T}']
        if sp == 'slow': S = [f'<clap> {{poss}} hands slowly {T}', f'<clap> slowly {T}', '<clap> slowly']
        if sp == 'fast': S = [f'<clap> {{poss}} hands quickly {T}', f'<clap> rapidly {T}', '<clap> quickly']
    elif action == 'bow':
        G = ['<bow>', '<take> a bow', '<bow> forward', '<bend> forward at the waist and <straighten> up']
        S = (['<bow> deeply', '<bend> deeply at the waist', '<do> a deep bow'] if p['depth'] == 'deep' else
             ['<bow> slightly', '<do> a small bow', '<bow> a little'])
        if n > 1: S = [s + ' twice' for s in S[:2]] + ['<bow> twice']
    elif action == 'sit_down':
        G = ['<sit> down', '<sit> down on a chair', '<take> a seat']
        S = ['<sit> down on something', '<lower> {refl} into a seat', '<sit> down on a chair behind {obj}']
    elif action == 'stand_up':
        G = ['<stand> up', '<get> up', '<rise> to {poss} feet']
        S = ['<get> up from a chair', '<stand> up from a seated position', '<rise> from the chair', '<stand> up from the seat']
    elif action == 'throw':
        G = ['<throw> something', '<throw> a ball', '<make> a throwing motion']
        S = [f'<throw> something with {{poss}} {side} hand', f'<throw> a ball with the {side} hand',
             f'<make> a throwing motion with {{poss}} {side} arm', f'<throw> an object overhand with the {side} arm']
    else:
        raise KeyError(f"unknown action {action!r}")
    S = [s for s in S if s]
    return S, G


_SUBJECTS = {'male': ['a man', 'the man', 'a man', 'a guy'], 'female': ['a woman', 'the woman', 'a woman'],
             'neutral': ['a person', 'a person', 'the person', 'someone', 'a figure', 'a human', 'somebody']}
_PRON = {'male': ('his', 'he', 'himself', 'him'), 'female': ('her', 'she', 'herself', 'her'),
         'neutral': ('his', 'he', 'himself', 'him')}
_obj_lex = {'him': 'PRON'}


def _fill(vp, gender, n_words=None):
    poss, pron, refl, obj = _PRON[gender]
    return vp.replace('{poss}', poss).replace('{pron}', pron).replace('{refl}', refl).replace('{obj}', obj + '|PRON')


def _conjugate(vp, tense):
    "Replace <verb> markers; `<verb>|ING` is always the participle (used after 'while')."
    def rep(m):
        lemma, ing = m.group(1), m.group(2)
        s3, part = _forms(lemma)
        word = part if (ing or tense == 'prog') else s3
        return f'{word}|VERB'
    return re.sub(r'<([a-z]+)>(\|ING)?', rep, vp)


def _assemble(vps, gender, tense, rng, subject=None):
    "A sentence (template form, with |POS marks) from one VP per part."
    subj = subject or str(rng.choice(_SUBJECTS[gender]))
    vps = [_fill(v, gender) for v in vps]
    parts = [_conjugate(v, tense) for v in vps]
    if len(parts) == 1:
        body = parts[0]
    else:
        if rng.random() < 0.2 and gender != 'neutral' and tense == 'simple':
            pron = _PRON[gender][1]
            joins = [str(rng.choice(['. then ', '. after that ', '. next '])) + pron + ' ' for _ in parts[1:]]
        else:
            joins = [str(rng.choice([' and then ', ', then ', ', and then ', ' then ', ' and then '])) for _ in parts[1:]]
            if len(parts) == 3 and rng.random() < 0.5: joins[0] = ', '
            if len(parts) == 3 and joins[0] == ', ': joins[1] = str(rng.choice([', and then ', ' and then ', ', then ']))
        body = parts[0]
        if rng.random() < 0.15 and not joins[0].startswith('.'): body = 'first ' + body
        for j, p in zip(joins, parts[1:]):
            body += j + p
    aux = 'is ' if tense == 'prog' else ''
    if body.startswith('first ') and tense == 'prog': body = body[6:]
    s = f'{subj} {aux}{body}'
    if rng.random() < 0.35: s += '.'
    return re.sub(r'\s+', ' ', s).strip()


def tokenize(template):
    "(caption, token string) from a template sentence with `word|POS` marks."
    words, toks = [], []
    for raw in template.split():
        m = re.match(r'^([a-z]+)(\|[A-Z]+)?([,.]*)$', raw)
        if not m: raise ValueError(f"caption template: cannot parse {raw!r} in {template!r}")
        w, pos_mark, punct = m.group(1), m.group(2), m.group(3)
        words.append(w + punct)
        if pos_mark == '|VERB':
            pos, lemma = LEXICON['#v:' + w]
        else:
            if w not in LEXICON: raise KeyError(f"caption lexicon: no entry for {w!r} (in {template!r})")
            pos, lemma = LEXICON[w]
            if pos_mark: pos = pos_mark[1:]
        if pos in ('NOUN', 'VERB') and w != 'left':
            out = lemma
        else:
            out = w
        toks.append(f'{out}/{pos}')
    return ' '.join(words), ' '.join(toks)


def caption_line(template, start=0.0, end=0.0):
    "One HumanML3D text line `caption#tokens#start#end`."
    cap, toks = tokenize(template)
    return f'{cap}#{toks}#{float(start)}#{float(end)}'


def parse_line(line):
    "(caption, [(word, POS)], start, end) of a text line."
    cap, toks, s, e = line.rstrip('\n').split('#')
    return cap, [tuple(t.split('/')) for t in toks.split()], float(s), float(e)


# Vague VPs name only the kind of movement, so several actions share each one (as "a person moves their arms"
# covers waving, clapping and punching in HumanML3D). They make some captions ambiguous on purpose: without them the
# retrieval task is easier than HumanML3D's (real-motion R@3 0.952 in groups of 32, against 0.797).
_VAGUE_GROUPS = [
    (('walk', 'jog', 'run'), ['<move> forward', '<go> forward', '<move> ahead']),
    (('walk_backward', 'sidestep'), ['<take> some steps', '<step> away', '<move> to the side|NOUN or back']),
    (('turn', 'spin'), ['<turn> around', '<rotate> {poss} body']),
    (('jump_forward', 'jump_in_place', 'hop', 'jumping_jacks'), ['<jump>', '<jump> around', '<hop> around']),
    (('squat', 'lunge', 'bow', 'sit_down'), ['<bend> down', '<lower> {poss} body']),
    (('kick', 'stand_up'), ['<move> {poss} legs', '<shift> {poss} weight']),
    (('punch', 'wave', 'raise_arms', 'clap', 'throw'), ['<move> {poss} arms', '<move> {poss} hands', '<swing> {poss} arms']),
]
VAGUE = {a: vps for acts, vps in _VAGUE_GROUPS for a in acts}   # action -> vague VPs shared with its group


def _pick_vp(action, p, rng, specific_p=0.45, used=(), vague_p=0.2):
    """A VP for one part: vague (shared by a group of actions) with probability `vague_p`, else parameter-specific
    with probability `specific_p`, else generic; preferring ones not `used` yet."""
    S, G = verb_phrases(action, p, rng)
    if rng.random() < vague_p: G, S = VAGUE[action], []
    pool = S if (S and (rng.random() < specific_p or not G)) else G
    fresh = [v for v in pool if v not in used]
    return str(rng.choice(fresh or pool))


def make_captions(parts, rng, n_lines=None, segments=None, vague_p=0.2):
    """HumanML3D text lines for a clip made of `parts` = [(action, params), ...].

    `vague_p` is the chance that a part is described by a vague VP shared with other actions (`VAGUE`).
    `segments` = [(start_s, end_s), ...] per part enables one sub-segment line (non-zero start/end) for a
    composed clip. Returns a list of lines (3-4 whole-clip lines, plus the sub-segment line)."""
    n_lines = n_lines or int(rng.choice([3, 3, 4]))
    lines, seen, used = [], set(), [set() for _ in parts]
    for attempt in range(40):
        if len(lines) >= n_lines: break
        gender = str(rng.choice(['neutral', 'neutral', 'male', 'female']))
        tense = 'prog' if rng.random() < 0.2 else 'simple'
        vps = [_pick_vp(a, p, rng, used=used[k], vague_p=vague_p) for k, (a, p) in enumerate(parts)]
        line = caption_line(_assemble(vps, gender, tense, rng))
        key = line.split('#')[0].rstrip('.')
        if key in seen: continue
        seen.add(key); lines.append(line)
        for k, v in enumerate(vps): used[k].add(v)
    if segments is not None and len(parts) > 1:
        lens = [e - s for s, e in segments]
        i = int(max(range(len(parts)), key=lambda k: (lens[k], -k)))
        a, p = parts[i]
        gender = str(rng.choice(['neutral', 'male', 'female']))
        tpl = _assemble([_pick_vp(a, p, rng, vague_p=vague_p)], gender, 'simple', rng)
        s, e = segments[i]
        lines.append(caption_line(tpl, round(s, 2), round(e, 2)))
    return lines
