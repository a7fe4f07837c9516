"""The four outreach materials of the report, in English and French (and Arabic for the CPTED brochure).

Written to model the person-first language the officers are trained in: the
language check finds nothing in them (a test keeps it so).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple


class Text(NamedTuple):
    title: str
    prose: str
    translated_on: date

    @property
    def body(self) -> str:
        """Paragraphs are separated by blank lines; the line breaks inside one are only for this file."""
        return "\n\n".join(" ".join(block.split()) for block in self.prose.strip().split("\n\n"))


class Outreach(NamedTuple):
    slug: str
    kind: str
    topic: str
    published_on: date
    texts: dict[str, Text]
    later: dict[str, Text]  # translations added after publication


CPTED_EN = Text(
    "CPTED safety audits: how residents and police make a neighbourhood safer",
    """
Crime Prevention Through Environmental Design (CPTED) looks at how the places we share (alleys, parking lots,
parks and streets) affect safety. Good lighting, clear sightlines and well-kept spaces make a neighbourhood
feel safer and discourage crime.

During a CPTED audit, trained police officers walk the area with residents, the Safety Committee, the Business
Improvement Area and City staff. Together they note what works and what could be better: dark stretches of
alley, bushes that block the view, traffic that moves too fast, broken fences or lights.

Each audit ends with recommendations. Most changes so far have been brighter alley lighting, traffic calming
and trimming bushes so people can see and be seen. The partnership follows every recommendation until it is
done and compares the crime statistics before and after.

How to take part: ask your neighbourhood's Safety Committee, or call the Windsor Police Service non-emergency
line, to request an audit of a place that worries you. Audits are free and open to everyone who lives or works
in the area.
""",
    date(2025, 9, 15),
)


CPTED_FR = Text(
    "Les évaluations de sécurité CPTED : comment les résidents et la police rendent un quartier plus sûr",
    """
La prévention du crime par l'aménagement du milieu (CPTED) examine comment les lieux que nous partageons
(ruelles, stationnements, parcs et rues) influencent la sécurité. Un bon éclairage, une bonne visibilité et
des espaces bien entretenus rendent un quartier plus sûr et découragent le crime.

Pendant une évaluation CPTED, des policiers formés parcourent le secteur avec des résidents, le comité de
sécurité, la zone d'amélioration commerciale et le personnel de la Ville. Ensemble, ils notent ce qui
fonctionne et ce qui pourrait être amélioré : ruelles sombres, arbustes qui bloquent la vue, circulation trop
rapide, clôtures ou lampadaires brisés.

Chaque évaluation se termine par des recommandations. Jusqu'ici, la plupart des changements ont porté sur un
meilleur éclairage des ruelles, l'apaisement de la circulation et la taille des arbustes pour voir et être vu.
Le partenariat suit chaque recommandation jusqu'à sa réalisation et compare les statistiques de criminalité
avant et après.

Pour participer : adressez-vous au comité de sécurité de votre quartier, ou appelez la ligne non urgente du
Service de police de Windsor, pour demander l'évaluation d'un lieu qui vous préoccupe. Les évaluations sont
gratuites et ouvertes à toutes les personnes qui vivent ou travaillent dans le secteur.
""",
    date(2025, 10, 20),
)


CPTED_AR = Text(
    "تدقيق السلامة وفق منهج CPTED: كيف يجعل السكان والشرطة الحي أكثر أمانًا",
    """
يدرس منهج منع الجريمة من خلال التصميم البيئي (CPTED) كيف تؤثر الأماكن التي نتشاركها، مثل الأزقة ومواقف
السيارات والحدائق والشوارع، في السلامة. فالإضاءة الجيدة والرؤية الواضحة والأماكن المعتنى بها تجعل الحي أكثر
أمانًا وتحدّ من الجريمة.

خلال التدقيق، يتجول ضباط شرطة مدرَّبون في المنطقة مع السكان ولجنة السلامة وممثلي المحلات التجارية وموظفي
البلدية، ويدوّنون معًا ما هو جيد وما يحتاج إلى تحسين: أزقة مظلمة، وشجيرات تحجب الرؤية، وسيارات مسرعة، وأسوار
أو أضواء مكسورة.

ينتهي كل تدقيق بتوصيات. وكانت أغلب التغييرات حتى الآن إضاءة أفضل للأزقة، وتهدئة حركة المرور، وتقليم الشجيرات.
وتتابع الشراكة كل توصية حتى تنفيذها، وتقارن إحصاءات الجريمة قبل التغيير وبعده.

للمشاركة: تواصل مع لجنة السلامة في حيّك أو اتصل بالرقم غير الطارئ لشرطة وندسور لطلب تدقيق لمكان يقلقك. التدقيق
مجاني ومفتوح لكل من يعيش أو يعمل في المنطقة.
""",
    date(2026, 1, 20),
)


CPTED = Outreach(
    "cpted-audit-brochure",
    "brochure",
    "cpted_audit",
    date(2025, 9, 15),
    {"en": CPTED_EN, "fr": CPTED_FR},
    {"ar": CPTED_AR},
)


DRUG_TREATMENT_COURT_EN = Text(
    "Windsor Drug Treatment Court: treatment instead of jail",
    """
The Drug Treatment Court is a court program for people charged with non-violent offences linked to their
substance use. Instead of a traditional sentence, participants take part in treatment and regular court
check-ins.

The program brings together a judge, Crown and defence counsel, probation and treatment providers.
Participants attend counselling, meet with a case worker and come to court regularly so the team can support
their progress.

Who can apply: adults facing charges related to their substance use who want help. Ask your lawyer or duty
counsel about a referral. Taking part is voluntary.

Completing the program can lead to a non-custodial sentence or withdrawn charges. Most of all, it connects
people with treatment, housing and other supports in Windsor-Essex.
""",
    date(2024, 10, 1),
)


DRUG_TREATMENT_COURT_FR = Text(
    "Tribunal de traitement des drogues de Windsor : un traitement plutôt que la prison",
    """
Le Tribunal de traitement des drogues est un programme judiciaire pour les personnes accusées d'infractions
non violentes liées à leur consommation de substances. Au lieu d'une peine traditionnelle, les participants
suivent un traitement et se présentent régulièrement au tribunal.

Le programme réunit un juge, la Couronne, l'avocat de la défense, la probation et des intervenants en
traitement. Les participants suivent des séances de counseling, rencontrent un intervenant et se présentent
régulièrement au tribunal afin que l'équipe puisse soutenir leurs progrès.

Qui peut présenter une demande : les adultes accusés d'infractions liées à leur consommation de substances qui
souhaitent obtenir de l'aide. Parlez-en à votre avocat ou à l'avocat de service. La participation est
volontaire.

Terminer le programme peut mener à une peine sans détention ou au retrait des accusations. Surtout, il met les
personnes en contact avec des services de traitement, de logement et d'autres soutiens à Windsor-Essex.
""",
    date(2024, 11, 15),
)


DRUG_TREATMENT_COURT = Outreach(
    "drug-treatment-court-brochure",
    "brochure",
    "drug_treatment_court",
    date(2024, 10, 1),
    {"en": DRUG_TREATMENT_COURT_EN, "fr": DRUG_TREATMENT_COURT_FR},
    {},
)


TREATMENT_OPTIONS_EN = Text(
    "Windsor-Essex Treatment Services: Alcohol and Drug Treatment Options",
    """
Help with alcohol and drug use is available in Windsor-Essex, and you can contact most services yourself: no
referral is needed.

Options include withdrawal management, day and evening counselling, residential treatment, opioid agonist
treatment (such as methadone or buprenorphine) and peer support groups. Services for youth, families and
French-speaking residents are available.

If you are not sure where to start, ask the officer who gave you this pamphlet, your family doctor, or
ConnexOntario (1-866-531-2600: free, confidential, 24 hours a day).

Recovery looks different for everyone. Reaching out is a strong first step.
""",
    date(2024, 6, 1),
)


TREATMENT_OPTIONS_FR = Text(
    "Services de traitement de Windsor-Essex : options de traitement pour l'alcool et les drogues",
    """
De l'aide pour la consommation d'alcool et de drogues est offerte à Windsor-Essex, et vous pouvez communiquer
vous-même avec la plupart des services, sans recommandation.

Les options comprennent la gestion du sevrage, le counseling de jour et de soir, le traitement en
établissement, le traitement par agonistes opioïdes (comme la méthadone ou la buprénorphine) et des groupes de
soutien par les pairs. Des services pour les jeunes, les familles et les francophones sont offerts.

Si vous ne savez pas par où commencer, adressez-vous à l'agent qui vous a remis ce dépliant, à votre médecin
de famille ou à ConnexOntario (1-866-531-2600 : gratuit, confidentiel, 24 heures sur 24).

Le rétablissement est différent pour chacun. Demander de l'aide est un premier pas important.
""",
    date(2024, 7, 10),
)


TREATMENT_OPTIONS = Outreach(
    "treatment-options-pamphlet",
    "pamphlet",
    "treatment_options",
    date(2024, 6, 1),
    {"en": TREATMENT_OPTIONS_EN, "fr": TREATMENT_OPTIONS_FR},
    {},
)


GOOD_SAMARITAN_EN = Text(
    "The Good Samaritan Drug Overdose Act: call 911, stay and help",
    """
If you see an overdose, call 911 right away. The Good Samaritan Drug Overdose Act protects people who seek
emergency help during an overdose from charges for simple possession of a controlled substance.

The protection applies to the person who calls and to anyone at the scene when help arrives, including the
person having the overdose. It also covers breaches of pre-trial release, probation, conditional sentence or
parole conditions related to simple possession.

The Act does not protect against more serious offences, such as trafficking, or outstanding warrants for other
matters.

Give naloxone if you have it, stay with the person and follow the dispatcher's instructions. Free naloxone
kits are available at many pharmacies in Ontario.
""",
    date(2024, 3, 1),
)


GOOD_SAMARITAN_FR = Text(
    "Loi sur les bons samaritains secourant les victimes de surdose : appelez le 911, restez et aidez",
    """
Si vous êtes témoin d'une surdose, appelez le 911 immédiatement. La Loi sur les bons samaritains secourant les
victimes de surdose protège les personnes qui demandent de l'aide d'urgence lors d'une surdose contre des
accusations de possession simple d'une substance contrôlée.

La protection s'applique à la personne qui appelle et à toute personne présente à l'arrivée des secours, y
compris la personne qui fait la surdose. Elle couvre aussi les manquements aux conditions de mise en liberté
provisoire, de probation, d'emprisonnement avec sursis ou de libération conditionnelle liés à la possession
simple.

La Loi ne protège pas contre des infractions plus graves, comme le trafic, ni contre les mandats d'arrestation
en vigueur pour d'autres affaires.

Administrez de la naloxone si vous en avez, restez avec la personne et suivez les directives du répartiteur.
Des trousses de naloxone gratuites sont offertes dans de nombreuses pharmacies de l'Ontario.
""",
    date(2024, 4, 2),
)


GOOD_SAMARITAN = Outreach(
    "good-samaritan-act-pamphlet",
    "pamphlet",
    "good_samaritan_act",
    date(2024, 3, 1),
    {"en": GOOD_SAMARITAN_EN, "fr": GOOD_SAMARITAN_FR},
    {},
)


OUTREACH = (CPTED, DRUG_TREATMENT_COURT, TREATMENT_OPTIONS, GOOD_SAMARITAN)
