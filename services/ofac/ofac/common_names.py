"""Name parts so common worldwide that a name made only of them says little about who it
is ("Wei Zhang", "Mohammed Ali", "Maria Garcia"). A listed name made only of such parts (or
of parts many listed names share) never blocks on the name alone; it needs an identifier.

Drawn from published frequency rankings of given names and surnames (China, India, the Arab
world, Iran, Russia, Spain and Latin America, Vietnam, Korea, Japan, Turkey, Nigeria, the
English-speaking world, Germany, France), in their usual Latin spellings.
"""

from __future__ import annotations

_PARTS = """
    wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng
    liang xie song tang han feng deng cao peng zeng xiao tian dong yuan pan cai jiang yu du ye
    cheng wei su lu ding ren shen yao jin fang xia jia qiu fu yan min hong ming jun jie hui ling
    ping hua lei bo tao yong qiang gang xin jing ying yan mei lan na ting
    kumar singh sharma patel gupta shah khan ali ahmed ahmad mohammed mohammad muhammad mohamed
    mohamad hassan hussein husain hossein hasan abdullah abdul abdel rahman abdulrahman ibrahim
    mahmoud mahmud mustafa mostafa omar umar osman usman othman yusuf youssef yousef salem saleh
    salih said saeed khalid khaled karim rashid hamid ahmadi hosseini rezaei mousavi mohammadi
    rahimi karimi jafari hashemi reza mehdi hamza bilal tariq nasser nasir fatima aisha maryam
    zainab amina ibrahima mamadou moussa abu
    ivanov smirnov kuznetsov popov vasiliev petrov sokolov mikhailov novikov fedorov morozov
    volkov alekseev lebedev semenov egorov pavlov kozlov stepanov nikolaev orlov andreev makarov
    ivanova petrova smirnova alexander aleksandr sergei sergey vladimir dmitry dmitri andrei
    andrey alexei aleksei nikolai ivan mikhail igor oleg yuri viktor elena olga natalia tatiana
    irina anna maria
    garcia rodriguez martinez hernandez lopez gonzalez perez sanchez ramirez torres flores rivera
    gomez diaz cruz morales reyes gutierrez ortiz ramos romero jimenez ruiz alvarez castillo
    vasquez vazquez mendoza castro silva santos oliveira souza ferreira costa pereira
    jose juan carlos luis miguel jorge pedro manuel antonio francisco javier rafael alejandro
    fernando ricardo roberto eduardo diego pablo mario sergio ana carmen rosa lucia
    nguyen tran le pham hoang phan vu dang bui do ho ngo duong ly van thi thanh minh anh
    kim lee park choi jung kang cho yoon jang lim han oh seo shin kwon hwang ahn song
    sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato
    yilmaz kaya demir sahin celik yildiz yildirim ozturk aydin ozdemir arslan dogan mehmet
    mustafa emre
    okafor okonkwo adeyemi ogunleye bello abubakar musa yusuf adebayo oluwaseun chukwu
    smith johnson williams brown jones miller davis wilson anderson taylor thomas moore jackson
    martin thompson white harris clark lewis robinson walker young allen king wright scott
    james john robert michael william david richard joseph charles thomas christopher daniel
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen
    muller mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann
    martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent
"""
COMMON_NAME_PARTS = frozenset(_PARTS.split())
